"""Weight transfer from the reference TF/Keras models: tagformer's SAL-T (``salt_ref``) and PHAT-JeT
built from reference-layout weight arrays compute the reference's function on jets without padding.

The weights are random numpy arrays in Keras's layouts (tests/models/reference_layers.py, which also
holds the reference's layer math in numpy); no TensorFlow needed. The mapping below is the documented
correspondence of docs/models.md: Keras kernels are transposed into ``nn.Linear`` weights, q/k/v
kernels are stacked into one ``qkv`` weight, Conv2D kernels (h, w, in, out) become (out, in, h, w).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_layers import phat_forward, phat_weights, salt_forward, salt_weights

from tagformer.data.batch import JetBatch
from tagformer.models import create_model

HEIGHTS = (1, 3, 5)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _linear(state: dict, prefix: str, w: dict, name: str) -> None:
    state[f"{prefix}.weight"] = _t(w[f"{name}/kernel"].T)
    state[f"{prefix}.bias"] = _t(w[f"{name}/bias"])


def _load(model: torch.nn.Module, state: dict) -> None:
    """Every parameter replaced (strict: nothing of the model left at its initial value)."""
    expected = {k for k in model.state_dict() if not k.startswith("input_norm.")}
    assert set(state) == expected, sorted(set(state) ^ expected)
    model.load_state_dict(state, strict=False)


def salt_state(w: dict) -> dict:
    """Keras SAL-T weights -> state dict of create_model('salt_ref', ...)."""
    s: dict = {}
    _linear(s, "encoder.embed", w, "embed")
    a = "encoder.blocks.0.attn"
    s[f"{a}.qkv.weight"] = _t(np.concatenate([w[f"attn/{n}"].T for n in ("wq", "wk", "wv")]))
    s[f"{a}.key_weights"], s[f"{a}.value_weights"] = _t(w["attn/cluster_E_W"]), _t(w["attn/cluster_F_W"])
    for i in range(len(HEIGHTS)):
        s[f"{a}.convs.{i}.weight"] = _t(w[f"attn/conv{i}/kernel"].transpose(3, 2, 0, 1))
        s[f"{a}.convs.{i}.bias"] = _t(w[f"attn/conv{i}/bias"])
    _linear(s, f"{a}.out", w, "attn/dense")
    for i in (1, 2):
        s[f"encoder.blocks.0.norm{i}.alpha"] = _t(w[f"act{i}/alpha"])
        s[f"encoder.blocks.0.norm{i}.beta"] = _t(w[f"act{i}/beta"])
    _linear(s, "encoder.blocks.0.ffn.net.0", w, "ffn0")
    _linear(s, "encoder.blocks.0.ffn.net.2", w, "ffn1")
    _linear(s, "encoder.head.net.0", w, "hidden")
    _linear(s, "heads.classification.linear", w, "out")
    return s


def phat_state(w: dict) -> dict:
    """Keras PHAT-JeT weights (one stage, one block) -> state dict of create_model('phat_small', ...)."""
    s: dict = {}
    b = "encoder.blocks.0"
    _linear(s, "encoder.embed.0", w, "embed")
    s[f"{b}.gmp.grid.weight"] = _t(w["cpe/conv/kernel"].transpose(3, 2, 0, 1))  # (K, K, 1, C) -> (C, 1, K, K)
    s[f"{b}.gmp.grid.bias"] = _t(w["cpe/conv/bias"])
    _linear(s, f"{b}.gmp.dense", w, "cpe/pointwise")
    for mine, theirs in (("gmp.norm", "cpe/norm"), ("norm1", "norm1"), ("norm2", "norm2")):
        s[f"{b}.{mine}.weight"], s[f"{b}.{mine}.bias"] = _t(w[f"{theirs}/gamma"]), _t(w[f"{theirs}/beta"])
    for mine, theirs in (("patch_attn.heads", "attn"), ("token_attn.heads", "patch_attn")):
        s[f"{b}.{mine}.qkv.weight"] = _t(np.concatenate([w[f"{theirs}/{n}/kernel"].T for n in ("wq", "wk", "wv")]))
        s[f"{b}.{mine}.qkv.bias"] = _t(np.concatenate([w[f"{theirs}/{n}/bias"] for n in ("wq", "wk", "wv")]))
        _linear(s, f"{b}.{mine}.out", w, f"{theirs}/wo")
    _linear(s, f"{b}.token_attn.proj", w, "proj")
    _linear(s, f"{b}.fc1", w, "ffn0")
    _linear(s, f"{b}.fc2", w, "ffn1")
    _linear(s, "encoder.jet_mlp.0", w, "hidden")
    _linear(s, "heads.classification.linear", w, "out")
    return s


@pytest.mark.parametrize("particles", [10, 12])
def test_salt_ref_from_reference_weights_computes_the_reference(particles):
    """N = 10 (chunks of 3, the last group one particle: the rank rule would differ) and N = 12."""
    rng = np.random.default_rng(particles)
    w = salt_weights(rng, features=3, d=8, heads=2, d_ff=8, proj=4, particles=particles, classes=5,
                     heights=HEIGHTS)
    model = create_model("salt_ref", num_classes=5, in_features=3, num_particles=particles,
                         dim=8, num_heads=2, ffn_dim=8, partitions=4).eval()
    _load(model, salt_state(w))
    jets = rng.normal(0.0, 1.0, (3, particles, 3)).astype(np.float32)
    full = torch.ones(3, particles, dtype=torch.bool)
    batch = JetBatch(features=_t(jets), p4=torch.zeros(3, particles, 4), mask=full)
    with torch.no_grad():
        got = model(batch).double().numpy()
    want = np.stack([salt_forward(j.astype(np.float64), w, heads=2, proj=4, heights=HEIGHTS) for j in jets])
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
    if particles == 10:  # the partition rule matters: the earlier rank rule gives another function
        model.encoder.blocks[0].attn.partition_rule = "rank"
        with torch.no_grad():
            assert np.abs(model(batch).double().numpy() - want).max() > 1e-3


def _grid_jets(rng: np.random.Generator, jets: int, n: int, cell: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(pT, eta, phi) features and massless (px, py, pz, E) whose cells are unambiguous: every particle sits
    0.1-0.4 of a cell above a cell boundary counted from the particle with the smallest eta (phi), which
    sits on its boundary, so floor((eta - eta_min) / cell) is the same in any rounding (rapidity = eta)."""
    feats = np.zeros((jets, n, 3))
    for j in range(jets):
        for col in (1, 2):
            steps = rng.integers(0, 12, n).astype(float) + rng.uniform(0.1, 0.4, n)
            steps[rng.integers(n)] = 0.0  # the particle with the smallest value, on a boundary
            feats[j, :, col] = rng.uniform(-1, 1) + steps * cell
        feats[j, :, 0] = np.sort(rng.exponential(30.0, n) + 1.0)[::-1]
    pt, eta, phi = feats[..., 0], feats[..., 1], feats[..., 2]
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
    return feats, p4


def test_phat_from_reference_weights_computes_the_reference():
    """phat_small's structure (one block, patch tokens by mean, max pooling) with the reference's LayerNorm
    epsilon; N = 10 is a multiple of the patch size 5 (the reference pads the last patch unmasked)."""
    rng = np.random.default_rng(0)
    w = phat_weights(rng, features=3, d=8, d_ff=16, kernel=8, classes=5)
    model = create_model("phat_small", num_classes=5, in_features=3, dim=8, num_heads=2, patch_size=5,
                         ffn_dim=16, norm_eps=1e-6).eval()
    _load(model, phat_state(w))
    feats, p4 = _grid_jets(rng, jets=4, n=10)
    batch = JetBatch(features=_t(feats), p4=_t(p4), mask=torch.ones(4, 10, dtype=torch.bool))
    with torch.no_grad():
        got = model(batch).double().numpy()
        dense = model.encoder.encode_dense(batch)  # the padded (export) path agrees too
        packed = model.encoder.encode(batch)
    torch.testing.assert_close(dense, packed, atol=1e-5, rtol=1e-5)
    want = np.stack([phat_forward(f, w, heads=2, patch=5) for f in feats])
    assert np.abs(want).max() > 0.5 and np.ptp(want, axis=0).max() > 0.1  # a non-trivial function of the jet
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
