"""tagformer.eval"""
