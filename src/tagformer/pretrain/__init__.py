"""Self-supervised pretraining of zoo encoders: masked particle modelling (``mpm``), the jet joint-embedding
predictive architecture (``jjepa``) and RG-invariant self-distillation (``rino``).

``tagformer pretrain`` (:func:`tagformer.pretrain.run.pretrain`) writes a run directory whose best weights are
an encoder and its input normalisation; :func:`tagformer.train.init_from.load_pretrained_encoder` loads them
into a freshly built :class:`~tagformer.models.tagger.Tagger` for fine-tuning. docs/pretraining.md describes
the methods and what differs from each paper.
"""
