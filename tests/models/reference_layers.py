"""The reference TF/Keras models' layer math, written out in numpy, on weights in Keras's layouts.

SAL-T (aaronw5/SAL-T4HEP, ``models/Linformer.py``: clustered E/F projections, score-map convolutions,
``DynamicTanh``) and PHAT-JeT (aaronw5/PHAT-JeT, ``models/PHAT_JeT.py``: geometric message passing,
patched attention, patch-token messages, one stage without pooling). Written from reading those layers,
for one jet without padding; the weights are plain numpy arrays shaped as the Keras layers hold them
(``Dense`` kernel (in, out), ``Conv2D`` kernel (h, w, in/groups, out), ...). Returns pre-softmax logits
(the Keras models end in a softmax).
"""

from __future__ import annotations

import math

import numpy as np

Weights = dict[str, np.ndarray]


def _dense(x: np.ndarray, w: Weights, name: str) -> np.ndarray:
    return x @ w[f"{name}/kernel"] + w[f"{name}/bias"]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _gelu(x: np.ndarray) -> np.ndarray:  # Keras "gelu": exact (erf) form
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, w: Weights, name: str, eps: float) -> np.ndarray:
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[f"{name}/gamma"] + w[f"{name}/beta"]


def _same_pad(size: int) -> tuple[int, int]:
    """TF "same" padding of a kernel of ``size``: (before, after), the extra cell after."""
    return (size - 1) // 2, size - 1 - (size - 1) // 2


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    n, d = x.shape
    return x.reshape(n, heads, d // heads).transpose(1, 0, 2)  # (H, N, dh)


def _merge(x: np.ndarray) -> np.ndarray:
    h, n, dh = x.shape
    return x.transpose(1, 0, 2).reshape(n, h * dh)


# ---------------------------------------------------------------- SAL-T
def salt_weights(rng: np.random.Generator, features: int, d: int, heads: int, d_ff: int, proj: int,
                 particles: int, classes: int, heights: tuple[int, ...]) -> Weights:
    """Random weights in the Keras layouts of ``build_linformer_transformer_classifier`` (cluster_E,
    cluster_F, convolution)."""
    chunk = -(-particles // proj)

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.4, shape).astype(np.float32)

    w = {"embed/kernel": r(features, d), "embed/bias": r(d),
         "attn/wq": r(d, d), "attn/wk": r(d, d), "attn/wv": r(d, d),
         "attn/cluster_E_W": r(heads, proj, chunk), "attn/cluster_F_W": r(heads, proj, chunk),
         "attn/dense/kernel": r(d, d), "attn/dense/bias": r(d),
         "act1/alpha": 1 + r(1), "act1/beta": r(1), "act2/alpha": 1 + r(1), "act2/beta": r(1),
         "ffn0/kernel": r(d, d_ff), "ffn0/bias": r(d_ff), "ffn1/kernel": r(d_ff, d), "ffn1/bias": r(d),
         "hidden/kernel": r(d, d), "hidden/bias": r(d), "out/kernel": r(d, classes), "out/bias": r(classes)}
    for i, h in enumerate(heights):
        w[f"attn/conv{i}/kernel"], w[f"attn/conv{i}/bias"] = r(h, proj, 1, 1), r(1)
    return w


def _score_convolutions(scores: np.ndarray, w: Weights, heights: tuple[int, ...]) -> np.ndarray:
    """Each (N, P) map of (H, N, P) through Conv2D(1, (h, P), "same") per height, averaged."""
    _, n, p = scores.shape
    outs = []
    for i, h in enumerate(heights):
        kernel, bias = w[f"attn/conv{i}/kernel"][:, :, 0, 0], w[f"attn/conv{i}/bias"][0]
        (top, bottom), (left, right) = _same_pad(h), _same_pad(p)
        padded = np.pad(scores, ((0, 0), (top, bottom), (left, right)))
        out = np.full(scores.shape, bias, dtype=np.float64)
        for a in range(h):
            for b in range(p):
                out += kernel[a, b] * padded[:, a:a + n, b:b + p]
        outs.append(out)
    return np.mean(outs, axis=0)


def salt_forward(x: np.ndarray, w: Weights, heads: int, proj: int, heights: tuple[int, ...]) -> np.ndarray:
    """Logits of one jet ``x`` (N, F) without padding."""
    n = x.shape[0]
    h = _relu(_dense(x, w, "embed"))
    q, k, v = (_heads(h @ w[f"attn/{name}"], heads) for name in ("wq", "wk", "wv"))
    chunk = w["attn/cluster_E_W"].shape[-1]
    pad = ((0, 0), (0, chunk * proj - n), (0, 0))
    k_chunks = np.pad(k, pad).reshape(heads, proj, chunk, -1)
    v_chunks = np.pad(v, pad).reshape(heads, proj, chunk, -1)
    k_proj = np.einsum("hcld,hcl->hcd", k_chunks, w["attn/cluster_E_W"])
    v_proj = np.einsum("hcld,hcl->hcd", v_chunks, w["attn/cluster_F_W"])
    scores = q @ k_proj.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
    attn = _dense(_merge(_softmax(_score_convolutions(scores, w, heights)) @ v_proj), w, "attn/dense")
    out1 = np.tanh(w["act1/alpha"] * (h + attn) + w["act1/beta"])
    ffn = _dense(_relu(_dense(out1, w, "ffn0")), w, "ffn1")
    out2 = np.tanh(w["act2/alpha"] * (out1 + ffn) + w["act2/beta"])
    return _dense(_relu(_dense(out2.max(0), w, "hidden")), w, "out")


# ---------------------------------------------------------------- PHAT-JeT
def phat_weights(rng: np.random.Generator, features: int, d: int, d_ff: int, kernel: int,
                 classes: int) -> Weights:
    """Random weights in the Keras layouts of ``build_phat_jet_classifier`` (one stage, one block,
    CPE on, patch messages with mean tokens and a message projection, no gate)."""
    def r(*shape: int, scale: float = 0.4) -> np.ndarray:
        return rng.normal(0.0, scale, shape).astype(np.float32)

    w = {"embed/kernel": r(features, d), "embed/bias": r(d),
         "cpe/conv/kernel": r(kernel, kernel, 1, d, scale=0.1), "cpe/conv/bias": r(d),
         "cpe/pointwise/kernel": r(d, d), "cpe/pointwise/bias": r(d),
         "ffn0/kernel": r(d, d_ff), "ffn0/bias": r(d_ff), "ffn1/kernel": r(d_ff, d), "ffn1/bias": r(d),
         "proj/kernel": r(d, d), "proj/bias": r(d),
         "hidden/kernel": r(d, d), "hidden/bias": r(d), "out/kernel": r(d, classes), "out/bias": r(classes)}
    for norm in ("cpe/norm", "norm1", "norm2"):
        w[f"{norm}/gamma"], w[f"{norm}/beta"] = 1 + r(d, scale=0.1), r(d, scale=0.1)
    for attn in ("attn", "patch_attn"):
        for name in ("wq", "wk", "wv", "wo"):
            w[f"{attn}/{name}/kernel"], w[f"{attn}/{name}/bias"] = r(d, d), r(d)
    return w


def _mha(x: np.ndarray, w: Weights, name: str, heads: int) -> np.ndarray:
    """Unmasked multi-head self-attention over (L, D) with biased q/k/v/o dense layers."""
    q, k, v = (_heads(_dense(x, w, f"{name}/{p}"), heads) for p in ("wq", "wk", "wv"))
    att = _softmax(q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1]))
    return _dense(_merge(att @ v), w, f"{name}/wo")


def phat_forward(x: np.ndarray, w: Weights, heads: int, patch: int, grid_size: float = 0.05,
                 eps: float = 1e-6) -> np.ndarray:
    """Logits of one jet ``x`` (N, 3) = (pT, eta, phi) without padding, N a multiple of ``patch``."""
    n = x.shape[0]
    h = _relu(_dense(x, w, "embed"))
    d = h.shape[1]
    # geometric message passing: cells from the (eta, phi) columns, scatter-sum, depthwise conv, gather
    u = ((x[:, 1] - x[:, 1].min()) / grid_size).astype(np.int64)
    v = ((x[:, 2] - x[:, 2].min()) / grid_size).astype(np.int64)
    kernel = w["cpe/conv/kernel"][:, :, 0, :]  # (K, K, C)
    before, _ = _same_pad(kernel.shape[0])
    grid: dict[tuple[int, int], np.ndarray] = {}
    for i in range(n):
        grid[(u[i], v[i])] = grid.get((u[i], v[i]), 0.0) + h[i]
    conv = np.stack([w["cpe/conv/bias"] + sum(kernel[a, b] * grid.get((u[i] + a - before, v[i] + b - before), 0.0)
                                              for a in range(kernel.shape[0]) for b in range(kernel.shape[1]))
                     for i in range(n)])
    h = h + _layer_norm(_dense(conv, w, "cpe/pointwise"), w, "cpe/norm", eps)
    # attention inside patches of P consecutive particles
    y = _layer_norm(h, w, "norm1", eps).reshape(n // patch, patch, d)
    h = h + np.concatenate([_mha(p, w, "attn", heads) for p in y])
    # patch tokens (mean) -> attention between them -> projection -> broadcast to the patch
    tokens = _layer_norm(h, w, "norm1", eps).reshape(n // patch, patch, d).mean(1)
    h = h + np.repeat(_dense(_mha(tokens, w, "patch_attn", heads), w, "proj"), patch, axis=0)
    h = h + _dense(_gelu(_dense(_layer_norm(h, w, "norm2", eps), w, "ffn0")), w, "ffn1")
    return _dense(_relu(_dense(h.max(0), w, "hidden")), w, "out")
