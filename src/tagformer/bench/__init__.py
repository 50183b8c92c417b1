"""Cost measurements of taggers: parameters, FLOPs, latency, throughput, memory, scaling with N.

- :mod:`.flops`: ``count_params`` and ``model_flops_per_jet`` (the one parameter count and FLOP convention);
- :mod:`.profile`: ``profile_model`` (any model: name + arguments, or an ``nn.Module``), ``profile_models``
  (name patterns, behind ``tagformer profile``) and the profile CSV schema;
- :mod:`.config` (``ProfileConfig``), :mod:`.targets` (which registered models), :mod:`.measure` (the rows of
  one built model), :mod:`.timing`, :mod:`.memory`, :mod:`.machine`, :mod:`.inputs` (synthetic jets),
  :mod:`.ops` (per-operator breakdown), :mod:`.scaling` (time per jet against N).
"""
