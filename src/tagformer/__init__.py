"""tagformer: efficient transformer jet taggers for real-time (trigger) use in high-energy physics."""

from tagformer.errors import TagformerError

__version__ = "0.1.0"
__all__ = ["TagformerError", "__version__"]
