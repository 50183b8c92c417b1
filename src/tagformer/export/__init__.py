"""tagformer.export"""
