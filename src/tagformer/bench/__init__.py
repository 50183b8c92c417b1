"""tagformer.bench"""
