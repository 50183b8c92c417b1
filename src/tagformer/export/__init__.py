"""Deployment: ONNX export of a tagger (its input normalisation in the graph), parity checks, int8 quantisation.

- :mod:`tagformer.export.onnx`: :class:`~tagformer.export.onnx.TensorTagger` (tensors in, JetBatch to the
  tagger), ``export_onnx``, ``onnx_session``, ``onnx_logits`` and the input contract (features raw, p4,
  mask -> logits);
- :mod:`tagformer.export.quantize`: ``quantize_int8`` (onnxruntime dynamic quantisation);
- :mod:`tagformer.export.parity`: ``compare_logits`` (max/mean |diff|, argmax agreement, accuracy, AUC);
- :mod:`tagformer.export.pipeline`: ``export_run(run_dir, ...)`` behind ``tagformer export``.

Submodules are imported on use so that ``import tagformer.export`` stays light.
"""
