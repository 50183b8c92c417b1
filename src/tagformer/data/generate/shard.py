"""Generate the jets of one shard: Pythia batches → detector → clustering → truth matching (and the truth
targets of matched jets, see ``genjets.py``) → features."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate import detector as det
from tagformer.data.generate.config import ALL_CLASSES, GenerateConfig
from tagformer.data.generate.features import constituent_features, padded_p4
from tagformer.data.generate.genjets import TARGET_NAMES, particle_level_jets
from tagformer.data.generate.jets import OBSERVABLE_NAMES, cluster, observables
from tagformer.data.generate.pythia import make_pythia, shard_seeds, silence_fastjet_banner
from tagformer.data.generate.record import EventRecord
from tagformer.data.generate.truth import TruthObjects, match_jets, parent_mass, truth_objects
from tagformer.errors import ConfigError

#: A shard with no matched jet after this many events stops (the cuts do not fit the process).
MAX_EVENTS_WITHOUT_JET = 2_000
#: A shard needing more than this many events per jet stops (efficiency below 1 in 1000: days per shard).
MAX_EVENTS_PER_JET = 1_000


@dataclass(frozen=True)
class ShardSpec:
    """One unit of work: ``count`` jets of class ``label``, shard number ``index`` of that class."""

    label: str
    index: int
    count: int

    @property
    def name(self) -> str:
        return f"{self.label}-{self.index:05d}"


@dataclass
class ShardResult:
    """Arrays of one shard (``targets``: (n, len(TARGET_NAMES)) float32) plus timing of its stages (seconds)."""

    constituents: np.ndarray
    jets: np.ndarray
    targets: np.ndarray
    events: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def plan_shards(config: GenerateConfig) -> list[ShardSpec]:
    """All shards of a run, independent of the number of workers (class-major, then shard index)."""
    shards = []
    for label in config.classes:
        n_full, rest = divmod(config.jets_per_class, config.shard_size)
        sizes = [config.shard_size] * n_full + ([rest] if rest else [])
        shards += [ShardSpec(label, i, s) for i, s in enumerate(sizes)]
    return shards


def _next_batch_size(config: GenerateConfig, needed: int, jets: int, events: int) -> int:
    """Events for the next Pythia batch: deterministic, shrinking as the shard fills up."""
    if events == 0:
        return int(min(config.batch_events, needed + 2))
    if jets == 0:
        return config.batch_events
    estimate = math.ceil(1.1 * needed * events / jets) + 2
    return int(min(config.batch_events, max(estimate, 5)))


def _check_efficiency(config: GenerateConfig, spec: ShardSpec, jets: int, events: int) -> None:
    """Stop a shard whose cuts (almost) never pass, with a message naming them, instead of running for hours."""
    too_many = MAX_EVENTS_PER_JET * spec.count + MAX_EVENTS_WITHOUT_JET
    if (jets == 0 and events >= MAX_EVENTS_WITHOUT_JET) or events > too_many:
        raise ConfigError(f"only {jets} matched {spec.label!r} jet(s) in {events} events: the jet cuts (pT > "
                          f"{config.jet_pt_min} GeV, |eta| < {config.eta_max}, R = {config.jet_r}) almost never pass "
                          f"with pT-hat in [{config.pthat_min}, {config.pthat_max}] GeV; widen the cuts or move "
                          "the pT-hat window")


def _final_state(rec: EventRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    final = rec.status > 0
    return rec.p4[final], rec.id[final], rec.event[final]


def generate_shard(config: GenerateConfig, spec: ShardSpec,
                   progress: Callable[[int], None] | None = None) -> ShardResult:
    """Generate exactly ``spec.count`` matched jets of class ``spec.label``.

    Parameters
    ----------
    progress
        Called with the number of newly accepted jets after each Pythia batch.
    """
    t_start = time.perf_counter()
    silence_fastjet_banner()
    pythia_seed, np_seed = shard_seeds(config.seed, spec.label, spec.index)
    rng = np.random.default_rng(np_seed)
    t0 = time.perf_counter()
    py = make_pythia(config, spec.label, pythia_seed)
    timings = {"pythia": time.perf_counter() - t0, "detector": 0.0, "clustering": 0.0, "matching": 0.0,
               "truth": 0.0}
    kept_jets, kept_cons, kept_truth = [], [], []
    n_jets = n_events = 0
    while n_jets < spec.count:
        n_batch = _next_batch_size(config, spec.count - n_jets, n_jets, n_events)
        t0 = time.perf_counter()
        prt = py.nextBatch(n_batch).prt
        t1 = time.perf_counter()
        rec = EventRecord.from_awkward(prt)
        p4, pid, event = _final_state(rec)
        if config.detector == "parametric":
            parts = det.apply_detector(p4, pid, event, rec.n_events, rng, calo_eta_max=config.calo_eta_max,
                                       ecal_cell=config.ecal_cell, hcal_cell=config.hcal_cell)
        else:
            parts = det.particle_level(p4, pid, event, rec.n_events)
        t2 = time.perf_counter()
        jet_p4, jet_event, cons = cluster(parts, config.jet_algorithm, config.jet_r, config.jet_pt_min,
                                          config.eta_max, config.max_jets_per_event)
        t3 = time.perf_counter()
        truth = truth_objects(rec, spec.label)
        matched = match_jets(jet_event, kin.eta(jet_p4), kin.phi(jet_p4), truth, config.jet_r)
        new_jets, new_cons, new_event = jet_p4[matched], cons[matched], jet_event[matched]
        t4 = time.perf_counter()
        n_events += rec.n_events
        take = min(len(new_jets), spec.count - n_jets)
        if take:
            kept_truth.append(_truth_targets(config, p4, pid, event, truth, new_event[:take], new_jets[:take]))
        t5 = time.perf_counter()
        timings["pythia"] += t1 - t0
        timings["detector"] += t2 - t1
        timings["clustering"] += t3 - t2
        timings["matching"] += t4 - t3
        timings["truth"] += t5 - t4
        if n_jets + take < spec.count:
            _check_efficiency(config, spec, n_jets + take, n_events)
        if take:
            kept_jets.append(new_jets[:take])
            kept_cons.append(new_cons[:take])
            n_jets += take
            if progress is not None:
                progress(take)
    t0 = time.perf_counter()
    jet_p4, cons_all = np.concatenate(kept_jets), ak.concatenate(kept_cons)
    obs = observables(cons_all, jet_p4, config.jet_r, config.softdrop_beta, config.softdrop_zcut)
    p4, mask = padded_p4(cons_all, config.n_constituents)
    feats = constituent_features(p4, mask, jet_p4)
    labels = np.zeros((spec.count, len(ALL_CLASSES)), np.float64)
    labels[:, ALL_CLASSES.index(spec.label)] = 1.0
    table = np.concatenate([obs, labels], axis=1).astype(np.float32)
    targets = np.concatenate(kept_truth)
    if config.detector == "none":  # the reconstructed jet is the particle-level jet
        targets[:, 1:] = obs[:, [OBSERVABLE_NAMES.index(c) for c in ("j_mass", "j_mass_mmdt", "j_pt")]]
    timings["features"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    return ShardResult(constituents=feats, jets=table, targets=targets.astype(np.float32), events=n_events,
                       timings=timings)


def _truth_targets(config: GenerateConfig, p4: np.ndarray, pid: np.ndarray, event: np.ndarray, truth: TruthObjects,
                   jet_event: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """(n, len(TARGET_NAMES)) regression targets of matched jets (see ``genjets.py``)."""
    out = np.full((len(jet_event), len(TARGET_NAMES)), np.nan)
    out[:, 0] = parent_mass(jet_event, kin.eta(jet_p4), kin.phi(jet_p4), truth, config.jet_r)
    if config.detector != "none":  # else filled from the observables at the end
        out[:, 1:] = particle_level_jets(p4, pid, event, jet_event, jet_p4, config.jet_algorithm, config.jet_r,
                                         config.jet_pt_min, config.softdrop_beta, config.softdrop_zcut)
    return out
