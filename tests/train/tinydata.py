"""A tiny hls4ml-layout HDF5 file whose classes differ learnably (jet width and multiplicity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES = ["px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot", "phi", "phirel",
            "phirot", "deltaR", "costheta", "costhetarel"]
CLASSES = ["j_g", "j_q", "j_w", "j_z", "j_t"]
#: Overrides that make a transformer_tiny run on the tiny file take a few seconds.
TINY_OVERRIDES = ["data.batch_size=32", "data.num_particles=16", "trainer.progress=false",
                  "trainer.checkpoint_every_n_steps=2", "trainer.threads=1", "model.num_layers=1",
                  "trainer.log_every_n_steps=2"]


def write_tiny_hls4ml(path: Path, jets_per_class: int = 40, particles: int = 20, seed: int = 0,
                      nan_jets: int = 0) -> Path:
    """Write ``5 * jets_per_class`` jets; class c has width ~0.05 * (c + 1) and ~4 + 3c particles."""
    import h5py

    rng = np.random.default_rng(seed)
    n = 5 * jets_per_class
    labels = np.repeat(np.arange(5), jets_per_class)
    rng.shuffle(labels)
    cons = np.zeros((n, particles, 16), dtype=np.float32)
    for i, c in enumerate(labels):
        k = min(particles, 4 + 3 * int(c) + int(rng.integers(0, 3)))
        pt = np.sort(rng.exponential(60.0, k) + 1.0)[::-1]
        eta0, phi0 = rng.uniform(-1, 1), rng.uniform(-np.pi, np.pi)
        eta = eta0 + rng.normal(0, 0.05 * (int(c) + 1), k)
        phi = phi0 + rng.normal(0, 0.05 * (int(c) + 1), k)
        cons[i, :k, 0] = pt * np.cos(phi)
        cons[i, :k, 1] = pt * np.sin(phi)
        cons[i, :k, 2] = pt * np.sinh(eta)
        cons[i, :k, 3] = pt * np.cosh(eta)
        cons[i, :k, 5] = pt
        cons[i, :k, 7] = eta
        cons[i, :k, 10] = phi
    if nan_jets:
        cons[:nan_jets, 0, 0] = np.nan
    onehot = np.eye(5, dtype=np.float32)[labels]
    jets = np.concatenate([rng.normal(size=(n, 3)).astype(np.float32), onehot], axis=1)
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = cons
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([b"pt", b"eta", b"mass"] + [c.encode() for c in CLASSES])
        f["particleFeatureNames"] = np.array([s.encode() for s in FEATURES])
    return path


def write_tiny_with_targets(path: Path, jets_per_class: int = 30) -> Path:
    """The tiny file plus reco ``pt``/``mass_mmdt`` jet columns and a truth ``mass`` target."""
    write_tiny_hls4ml(path, jets_per_class=jets_per_class)
    import h5py

    with h5py.File(path, "a") as f:
        labels = f["jets"][:, 3:].argmax(1)
        rng = np.random.default_rng(1)
        mass = np.array([20.0, 15.0, 80.4, 91.2, 172.5], np.float32)[labels] * rng.uniform(0.9, 1.1, len(labels))
        jets = f["jets"][:]
        jets[:, 0] = rng.uniform(500, 1000, len(labels))  # pt
        jets[:, 2] = mass * rng.uniform(0.8, 1.0, len(labels))  # reco soft-drop mass
        f["jets"][...] = jets
        del f["jetFeatureNames"]
        f["jetFeatureNames"] = np.array([b"pt", b"eta", b"mass_mmdt", b"j_g", b"j_q", b"j_w", b"j_z", b"j_t"])
        f["jetTargets"] = mass[:, None].astype(np.float32)
        f["jetTargetNames"] = np.array([b"mass"])
    return path
