"""Writers of small files in each real dataset schema, with the truth they were written from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from tagformer import kinematics as kin

HLS_PARTICLE = ["px", "py", "pz", "e", "erel", "pt", "ptrel", "eta", "etarel", "etarot", "phi", "phirel",
                "phirot", "deltaR", "costheta", "costhetarel"]
HLS_JET = ["ptfrac", "pt", "eta", "mass"] + [f"obs{i}" for i in range(49)] + ["g", "q", "w", "z", "t", "undef"]


@dataclass
class Truth:
    p4: np.ndarray  # (n, P, 4) float32, zero padded
    mask: np.ndarray  # (n, P)
    labels: np.ndarray  # (n,)
    pt: np.ndarray
    rap: np.ndarray
    phi: np.ndarray


def make_jets(n: int, p: int, classes: int, seed: int = 0, min_real: int = 2, mass: float = 0.0) -> Truth:
    """Random ~1 TeV jets with pT-ordered constituents and random multiplicities (zero padded)."""
    rng = np.random.default_rng(seed)
    n_real = rng.integers(min_real, p + 1, n)
    mask = np.arange(p)[None, :] < n_real[:, None]
    pt = -np.sort(-(rng.random((n, p)) ** 3 * 300 + 1), axis=1)
    eta = rng.uniform(-1, 1, (n, 1)) + rng.normal(0, 0.2, (n, p))
    phi = kin.wrap_phi(rng.uniform(-np.pi, np.pi, (n, 1)) + rng.normal(0, 0.2, (n, p)))
    p4 = kin.from_pt_eta_phi(pt, eta, phi, mass)
    p4 = np.where(mask[..., None], p4, 0.0).astype(np.float32)
    pt, eta, phi = (np.where(mask, a, 0.0) for a in (pt, eta, phi))
    return Truth(p4, mask, rng.integers(0, classes, n).astype(np.int64), pt, eta, phi)


def write_hls4ml(path, n: int = 12, p: int = 30, seed: int = 0, generated: bool = False,
                 names: bool = True) -> Truth:
    """hls4ml layout: published (59 columns, labels 53-57) or generated (labels last, by name)."""
    import h5py

    t = make_jets(n, p, 5, seed)
    rng = np.random.default_rng(seed + 1)
    parts = rng.normal(size=(n, p, 16)).astype(np.float32)
    parts[..., :4] = t.p4
    jet_p4 = t.p4.sum(axis=1)
    parts[..., 5] = kin.pt(t.p4)
    parts[..., 8] = kin.eta(t.p4) - kin.eta(jet_p4)[:, None]
    parts[..., 11] = kin.delta_phi(kin.phi(t.p4), kin.phi(jet_p4)[:, None])
    parts[~t.mask] = 0.0
    onehot = np.eye(5, dtype=np.float32)[t.labels]
    if generated:
        jnames = ["j_pt", "j_eta", "j_mass", "j_tau21", "j_g", "j_q", "j_w", "j_z", "j_t"]
        jets = np.concatenate([rng.normal(size=(n, 4)).astype(np.float32), onehot], axis=1)
    else:
        jnames = [f"j_{x}" for x in HLS_JET]
        jets = rng.normal(size=(n, 59)).astype(np.float32)
        jets[:, 53:58] = onehot
        jets[:, 58] = 0.0
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = parts
        f["jets"] = jets
        if names:
            f["jetFeatureNames"] = np.array([s.encode() for s in jnames])
            f["particleFeatureNames"] = np.array([f"j1_{s}".encode() for s in [*HLS_PARTICLE, "pdgid"]])
        if generated:
            f.create_group("metadata").attrs["command"] = "tagformer generate"
    return t


JETCLASS_LABELS = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]


def write_jetclass(path, n: int = 12, p: int = 40, seed: int = 0, drop: tuple[str, ...] = (),
                   onehot: np.ndarray | None = None) -> Truth:
    """A JetClass-like ROOT file: jagged part_* branches (counter npart), jet_*, label_*, aux_*."""
    import awkward as ak
    import uproot

    t = make_jets(n, p, 10, seed)
    rng = np.random.default_rng(seed + 2)
    counts = t.mask.sum(axis=1)

    def jag(a):
        return ak.unflatten(a[t.mask].astype(np.float32), counts)

    kind = rng.integers(0, 5, (n, p))
    fields = {"px": t.p4[..., 0], "py": t.p4[..., 1], "pz": t.p4[..., 2], "energy": t.p4[..., 3],
              "deta": t.rap, "dphi": t.phi, "charge": rng.integers(-1, 2, (n, p)).astype(np.float32),
              "d0val": rng.normal(size=(n, p)), "d0err": rng.random((n, p)),
              "dzval": rng.normal(size=(n, p)), "dzerr": rng.random((n, p))}
    for i, name in enumerate(["isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon"]):
        fields[name] = (kind == i).astype(np.float32)
    part = ak.zip({k: jag(v) for k, v in fields.items() if f"part_{k}" not in drop})
    onehot = np.eye(10)[t.labels] if onehot is None else onehot
    tree = {"part": part}
    for name in ["pt", "eta", "phi", "energy", "nparticles", "sdmass", "tau1", "tau2", "tau3", "tau4"]:
        tree[f"jet_{name}"] = rng.random(n).astype(np.float32)
    for i, name in enumerate(JETCLASS_LABELS):
        if f"label_{name}" not in drop:
            tree[f"label_{name}"] = onehot[:, i].astype(np.bool_)
    tree["aux_genpart_pt"] = rng.random(n).astype(np.float32)
    with uproot.recreate(path) as f:  # a TTree, as JetClass ships (not an RNTuple)
        f.mktree("tree", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in tree.items()})
        f["tree"].extend(tree)
    return t


def write_top(path, n: int = 12, p: int = 200, seed: int = 0, label: np.ndarray | None = None) -> Truth:
    """Top Tagging landscape: pandas HDF5, key 'table', E_i PX_i PY_i PZ_i (i < 200), is_signal_new."""
    import pandas as pd

    t = make_jets(n, min(p, 50), 2, seed)
    p4 = np.zeros((n, p, 4), np.float32)
    p4[:, : t.p4.shape[1]] = t.p4
    cols = {}
    for i in range(p):
        for j, comp in enumerate(("E", "PX", "PY", "PZ")):
            cols[f"{comp}_{i}"] = p4[:, i, (3, 0, 1, 2)[j]]
    cols["truthE"] = np.ones(n, np.float32)
    cols["ttv"] = np.zeros(n, np.int64)
    cols["is_signal_new"] = t.labels if label is None else label
    pd.DataFrame(cols).to_hdf(path, key="table")
    mask = np.zeros((n, p), bool)
    mask[:, : t.mask.shape[1]] = t.mask
    return Truth(p4, mask, t.labels, t.pt, t.rap, t.phi)


def write_qg(path, n: int = 12, m: int = 25, seed: int = 0, pid: bool = True) -> Truth:
    """energyflow quark-gluon npz: X (N, M, 4) = (pt, y, phi, pid), y; zero padded."""
    t = make_jets(n, m, 2, seed)
    rng = np.random.default_rng(seed + 3)
    codes = rng.choice([211, -211, 22, 130, 11, -13, 2212], (n, m)) if pid else np.zeros((n, m))
    x = np.stack([t.pt, t.rap, t.phi, np.where(t.mask, codes, 0)], axis=-1)
    np.savez_compressed(path, X=x, y=t.labels.astype(np.float64))
    return t


@pytest.fixture
def writers():
    """The schema writers, as one namespace."""
    class W:
        hls4ml = staticmethod(write_hls4ml)
        jetclass = staticmethod(write_jetclass)
        top = staticmethod(write_top)
        qg = staticmethod(write_qg)
        make_jets = staticmethod(make_jets)

    return W
