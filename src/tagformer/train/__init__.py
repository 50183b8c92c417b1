"""tagformer.train"""
