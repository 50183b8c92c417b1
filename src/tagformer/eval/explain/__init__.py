"""Interpretability of trained runs (``tagformer explain``): attention maps through the attention probe,
sparsity statistics, integrated-gradients attributions and a faithfulness test, written as a report."""

from tagformer.eval.explain.run import explain_run

__all__ = ["explain_run"]
