"""Load weaver-core ``ParticleTransformer`` (version 1) weights into a tagformer ``part`` classifier.

The two implementations have the same parameters under different names; after renaming, logits agree
to float precision (the benchmark and tests check this). weaver's final ``fc`` layer becomes the
classification head, everything else the :class:`~tagformer.models.part.ParT` encoder; weaver's model
takes features already normalised, so the tagger's input normalisation is the identity.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

#: weaver PairEmbed ``embed`` Sequential index -> tagformer PairEmbed attribute (4-layer pair MLP).
_PAIR_INDEX = {"0": "input_bn", "1": "linears.0", "2": "norms.0", "4": "linears.1", "5": "norms.1",
               "7": "linears.2", "8": "norms.2", "10": "linears.3", "11": "norms.3"}
_BLOCK_NAMES = {"c_attn": "attn.head_scale", "w_resid": "resid_scale"}


def weaver_to_tagformer(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a weaver ``ParticleTransformer`` state dict (pair MLP with three hidden layers, one ``fc``
    layer) to the state dict of ``create_model("part", ...)``: ``encoder.*``, ``heads.classification.*``
    and an identity ``input_norm``."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        parts = name.split(".")
        head, rest = parts[0], ".".join(parts[2:])
        if head == "trimmer":
            continue
        if head == "embed":
            name = f"embed.input_bn.{rest}" if parts[1] == "input_bn" else f"embed.net.{rest}"
        elif head == "pair_embed":
            name = f"pair_embed.{_PAIR_INDEX[parts[2]]}.{'.'.join(parts[3:])}"
            value = value.squeeze(-1) if value.ndim == 3 else value
        elif head in ("blocks", "cls_blocks"):
            name = f"{head}.{parts[1]}.{_BLOCK_NAMES.get(rest, rest)}"
        if head == "fc":
            out[f"heads.classification.linear.{parts[-1]}"] = value
        else:
            out[f"encoder.{name}"] = value
    features = state["embed.input_bn.weight"].numel()
    out["input_norm.mean"] = torch.zeros(features)
    out["input_norm.std"] = torch.ones(features)
    return out
