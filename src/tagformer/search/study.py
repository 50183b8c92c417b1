"""The Optuna study of a search: RDB storage, NSGA-II, recovery of killed trials and the worker loop.

- **Storage**: any SQLAlchemy URL Optuna's :class:`~optuna.storages.RDBStorage` takes; SQLite
  (``sqlite:///OUT/study.db``) by default. Every worker process, on this machine or on other nodes sharing
  the database, opens the same study and draws trials from it.
- **Sampler**: :class:`~optuna.samplers.NSGAIISampler` over the space's objectives. Constraints go to Optuna
  with ``Trial.set_constraint`` (constrained domination, never penalties; see :mod:`.constraints`). The
  sampler's seed mixes the space's seed, the worker's index and the number of trials already in the study,
  so a restarted or second worker does not replay the first one's draws.
- **Trial count**: ``--trials N`` is the size of the study, shared by all workers and restarts: a worker
  starts a trial while fewer than N trials are finished or running, and picks up queued retries first.
  Finished means ``COMPLETE``, ``PRUNED`` or ``FAIL`` with a recorded ``error`` (a candidate that cannot be
  built or trained); a trial that would make the study larger than N (two workers starting at the same
  instant) is marked ``surplus`` and ends at once.
- **Recovery**: a trial whose worker is gone (:mod:`.workers`: a dead process on this host, or a heartbeat
  older than the grace period) is set to ``FAIL`` and queued again with the same parameters and the same
  ``origin``; the retry resumes the killed trial's run directory from its last checkpoint. Ctrl+C leaves the
  current trial ``RUNNING`` so that the next start recovers it the same way. Finished trials are never rerun.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.errors import TagformerError
from tagformer.search.space import SearchSpace
from tagformer.search.workers import Heartbeat, is_gone, this_worker

if TYPE_CHECKING:
    import optuna

#: Study user attributes.
SPACE_ATTR, FINGERPRINT_ATTR, DATA_ATTR = "space", "fingerprint", "data"
#: Trial user attributes written by the worker loop.
WORKER_ATTR, HEARTBEAT_ATTR, ORIGIN_ATTR, RETRY_ATTR = "worker", "heartbeat", "origin", "retry_of"
ERROR_ATTR, SURPLUS_ATTR = "error", "surplus"


class CandidateError(TagformerError):
    """A candidate that cannot be built or trained: its trial fails with this message, the search goes on."""


def default_storage(out_dir: str | Path) -> str:
    """``sqlite:///<out_dir>/study.db`` (absolute)."""
    return f"sqlite:///{(Path(out_dir) / 'study.db').resolve()}"


def make_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``; SQLite waits up to 2 minutes for a lock (several workers write to it)."""
    import optuna

    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except Exception as exc:  # SQLAlchemy: bad URL, missing driver, unreachable server
        raise TagformerError(f"cannot open the study storage {url}: {str(exc).splitlines()[0]}") from exc


def open_study(space: SearchSpace, storage: optuna.storages.BaseStorage, name: str, data: str,
               worker_index: int = 0) -> optuna.Study:
    """Create the study or load it; TagformerError if it was created from another space or dataset."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=name, directions=space.directions, load_if_exists=True)
    attrs = study.user_attrs
    if FINGERPRINT_ATTR not in attrs:
        study.set_user_attr(SPACE_ATTR, space.describe())
        study.set_user_attr(FINGERPRINT_ATTR, space.fingerprint())
        study.set_user_attr(DATA_ATTR, data)
    elif attrs[FINGERPRINT_ATTR] != space.fingerprint():
        raise TagformerError(f"study {name!r} was created from a different search space (objectives, constraints, "
                             "parameters, budget or measurement differ); use another --study name or --out "
                             "directory, or the space it was created with")
    elif attrs.get(DATA_ATTR) != data:
        raise TagformerError(f"study {name!r} searches on {attrs.get(DATA_ATTR)}, not {data}; use another --study "
                             "name or --out directory")
    if [d.name.lower() for d in study.directions] != space.directions:
        raise TagformerError(f"study {name!r} has objective directions {[d.name for d in study.directions]}, "
                             f"the space asks for {space.directions}")
    seed = space.sampler.seed + 1_000_003 * worker_index + len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.NSGAIISampler(population_size=space.sampler.population_size, seed=seed)
    return study


def slot(trial: optuna.trial.FrozenTrial) -> str | None:
    """``"done"``, ``"live"`` (running or queued) or None (not counted: surplus, or failed and retried)."""
    from optuna.trial import TrialState

    if trial.user_attrs.get(SURPLUS_ATTR):
        return None
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return "done"
    if trial.state == TrialState.FAIL:
        return "done" if ERROR_ATTR in trial.user_attrs else None
    return "live"


def count(trials: Sequence[optuna.trial.FrozenTrial]) -> tuple[int, int]:
    """(finished, running or queued) trials that count towards the study size."""
    slots = [slot(t) for t in trials]
    return slots.count("done"), slots.count("live")


def origin(trial: optuna.trial.FrozenTrial | optuna.Trial) -> int:
    """The number of the first attempt of this trial (its own number unless it is a retry)."""
    return int(trial.user_attrs.get(ORIGIN_ATTR, trial.number))


def recover(study: optuna.Study, storage: optuna.storages.BaseStorage, grace_s: float) -> list[int]:
    """Fail the running trials whose worker is gone and queue each again; returns the recovered numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    recovered = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        beat = t.user_attrs.get(HEARTBEAT_ATTR)
        if beat is None and t.datetime_start is not None:
            beat = t.datetime_start.timestamp()
        if not is_gone(t.user_attrs.get(WORKER_ATTR), beat, grace_s):
            continue
        try:  # only the process that wins this state change queues the retry
            if not storage.set_trial_state_values(t._trial_id, TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue
        study.enqueue_trial(dict(t.params), user_attrs={ORIGIN_ATTR: origin(t), RETRY_ATTR: t.number})
        recovered.append(t.number)
    return recovered


def _is_surplus(study: optuna.Study, trial: optuna.Trial, target: int) -> bool:
    if RETRY_ATTR in trial.user_attrs:
        return False
    before = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number]
    done, live = count(before)
    return done + live >= target


def work(study: optuna.Study, storage: optuna.storages.BaseStorage, objective: Callable[[optuna.Trial], list[float]],
         target: int, *, heartbeat_s: float = 30.0, grace_s: float = 300.0,
         log: Callable[[str], Any] = print) -> int:
    """Run trials of ``study`` until it holds ``target`` finished or running trials; returns how many ran here.

    ``objective(trial)`` returns the objective values; it raises :class:`optuna.TrialPruned` to prune and
    :class:`CandidateError` for a candidate that cannot be built or trained (recorded, the loop goes on).
    Any other error fails the trial and propagates; KeyboardInterrupt leaves the trial running (recovered
    by the next start).
    """
    import optuna
    from optuna.trial import TrialState

    me = this_worker().as_dict()
    ran = 0
    while True:
        for number in recover(study, storage, grace_s):
            log(f"trial {number}: its worker is gone; queued again (resumes its run directory)")
        trials = study.get_trials(deepcopy=False)
        done, live = count(trials)
        queued = any(t.state == TrialState.WAITING for t in trials)
        if not queued and done + live >= target:
            return ran
        trial = study.ask()
        trial.set_user_attr(WORKER_ATTR, me)
        if _is_surplus(study, trial, target):
            trial.set_user_attr(SURPLUS_ATTR, True)
            study.tell(trial, state=TrialState.FAIL)
            continue
        t0 = time.perf_counter()
        values: list[float] | None = None
        with Heartbeat(lambda now, trial=trial: trial.set_user_attr(HEARTBEAT_ATTR, now), heartbeat_s):
            try:
                values = list(objective(trial))
                state = TrialState.COMPLETE
            except optuna.TrialPruned:
                state = TrialState.PRUNED
            except CandidateError as exc:
                trial.set_user_attr(ERROR_ATTR, str(exc))
                state = TrialState.FAIL
            except KeyboardInterrupt:
                raise
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                raise
        study.tell(trial, values if state == TrialState.COMPLETE else None, state=state)
        ran += 1
        log(describe_trial(study.get_trials(deepcopy=False)[trial.number], time.perf_counter() - t0))


def describe_trial(t: optuna.trial.FrozenTrial, seconds: float | None = None) -> str:
    """One line: number, candidate, metrics, state."""
    a = t.user_attrs
    metrics = ", ".join(f"{k} {_fmt(v)}" for k, v in (a.get("metrics") or {}).items())
    state = t.state.name.lower()
    if a.get(ERROR_ATTR):
        state += f": {a[ERROR_ATTR]}"
    if a.get("feasible") is False:
        state += ", infeasible" + ("" if a.get("trained", True) else " (not trained)")
    took = f" ({seconds:.0f} s)" if seconds is not None else ""
    return f"trial {t.number} {a.get('label', '')}: {metrics} [{state}]{took}"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
