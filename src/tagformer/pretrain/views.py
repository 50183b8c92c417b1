"""RINO's views of a jet: the jet reclustered with exclusive kT into a given number of subjets, each subjet
then standing in for a particle (features of the run's feature set computed from its four-momentum)."""

from __future__ import annotations

import numpy as np
import torch

from tagformer.data.batch import JetBatch
from tagformer.errors import ConfigError
from tagformer.pretrain.subjets import exclusive_kt_subjets

#: Feature sets computable from four-momenta alone (a view's subjets have no particle ID or tracks).
VIEW_FEATURE_SETS = ("ptetaphi", "part_kin", "hls4ml16")


def check_view_features(feature_set: str) -> None:
    if feature_set not in VIEW_FEATURE_SETS:
        raise ConfigError(f"rino builds views from subjet four-momenta, so data.feature_set must be computable from "
                          f"them ({', '.join(VIEW_FEATURE_SETS)}); {feature_set!r} needs per-particle information "
                          "that subjets do not have")


def make_view(batch: JetBatch, n_subjets: int, feature_set: str, ordering: str = "pt") -> JetBatch:
    """The batch as ``n_subjets`` exclusive-kT subjets per jet (0 = the batch itself), padded to the batch's
    particle count, features of ``feature_set`` relative to the original jet, in ``ordering``."""
    if n_subjets <= 0:
        return batch
    from tagformer import kinematics as kin
    from tagformer.data.features import compute_features, relative_coordinates
    from tagformer.data.orderings import gather, order_indices

    p4 = batch.p4.detach().float().cpu().numpy().astype(np.float64)
    mask = batch.mask.cpu().numpy()
    n = batch.num_particles
    if n_subjets > n:
        raise ConfigError(f"a rino view of {n_subjets} subjets does not fit data.num_particles={n}")
    jet_p4 = (p4 * mask[..., None]).sum(axis=1)
    sub_p4, sub_mask = exclusive_kt_subjets(p4, mask, n_subjets)
    sub_p4 = sub_p4.astype(np.float64)
    if ordering != "pt":
        deta, dphi = relative_coordinates(sub_p4, jet_p4)
        idx = order_indices(ordering, kin.pt(sub_p4), deta, dphi, sub_mask, np.random.default_rng(0))
        sub_p4, sub_mask = gather(sub_p4, idx), gather(sub_mask, idx)
    feats = compute_features(feature_set, sub_p4, sub_mask, jet_p4, {})
    pad = n - n_subjets
    feats = np.pad(feats, ((0, 0), (0, pad), (0, 0)))
    sub_p4 = np.pad(np.where(sub_mask[..., None], sub_p4, 0.0), ((0, 0), (0, pad), (0, 0))).astype(np.float32)
    sub_mask = np.pad(sub_mask, ((0, 0), (0, pad)))
    dev = batch.features.device
    return JetBatch(features=torch.from_numpy(feats).to(dev), p4=torch.from_numpy(sub_p4).to(dev),
                    mask=torch.from_numpy(sub_mask).to(dev))
