"""tagformer.models.attention"""
