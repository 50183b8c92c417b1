"""Load weights saved before the encoder/heads split (closed classifiers) into today's taggers.

Key mapping (documented in docs/architecture.md):

- ``<legacy_head>.weight`` / ``.bias`` (the classifier's final ``nn.Linear``; the encoder class names
  it, ``"head"`` for most models) -> ``heads.classification.linear.weight`` / ``.bias``;
- every other key ``K`` -> ``encoder.K``, after the encoder's own ``legacy_renames`` (old prefix ->
  new prefix, for the few attributes renamed by the split);
- the input normalisation was applied by the data pipeline then: its statistics come from the run's
  ``normaliser.json`` (``input_norm.mean`` / ``input_norm.std``), identity if none is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tagformer.models.tagger import Tagger


def is_legacy_state_dict(state_dict: Mapping[str, Any]) -> bool:
    """True for a state dict of a pre-split classifier (no ``encoder.`` keys)."""
    return bool(state_dict) and not any(k.startswith("encoder.") for k in state_dict)


def upgrade_state_dict(state_dict: Mapping[str, torch.Tensor], tagger: Tagger,
                       normaliser_state: Mapping[str, Any] | None = None) -> dict[str, torch.Tensor]:
    """Map a pre-split classifier's ``state_dict`` onto ``tagger``'s keys (see module docstring)."""
    head = tagger.encoder.legacy_head + "."
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith(head):
            out["heads.classification.linear." + key[len(head):]] = value
        else:
            for old, new in tagger.encoder.legacy_renames:
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
            out["encoder." + key] = value
    norm = tagger.input_norm
    if normaliser_state is not None:
        out["input_norm.mean"] = torch.as_tensor(normaliser_state["mean"], dtype=torch.float32)
        out["input_norm.std"] = torch.as_tensor(normaliser_state["std"], dtype=torch.float32)
    else:
        out["input_norm.mean"], out["input_norm.std"] = norm.mean.clone(), norm.std.clone()
    return out
