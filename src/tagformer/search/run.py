"""``run_search``: the library entry of ``tagformer search`` (validate, open the study, run workers, report).

Order of work:

1. read and validate the space (:func:`tagformer.search.space.load_space`), then build the extreme config of
   every family and every reference on the dataset (:func:`check_space`): every mistake in the space or the
   dataset path is one :class:`~tagformer.errors.TagformerError` before anything trains;
2. open (or create) the study in the storage (:mod:`.study`);
3. start ``workers - 1`` extra worker processes (``spawn``) on the same study; this process trains the
   reference presets, then works on trials too;
4. when the study holds its trials, write the report (:mod:`.report`).

Several nodes can work on one study: start ``tagformer search`` with the same ``--storage`` and ``--study``
on each (``--no-references`` on all but one); each stops when the study holds ``--trials`` trials.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tagformer.errors import TagformerError
from tagformer.search.candidate import Candidate, corners
from tagformer.search.space import SearchSpace, load_space
from tagformer.search.study import default_storage, make_storage, open_study, work


def quiet_logs() -> None:
    """Keep Lightning's and Optuna's per-run chatter off the terminal (warnings still show)."""
    import lightning.pytorch  # noqa: F401 - its import sets its logger to INFO; set the level after it
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def check_space(space: SearchSpace, data: str) -> None:
    """Build the run config of every family's extreme candidates and of every reference on ``data`` and read
    the dataset's layout (no jets); with fpga metrics, check the extra and every family's hardware variant
    (:func:`tagformer.search.fpga.check_fpga`): ConfigError/DataError here, before any training."""
    from tagformer.data.datamodule import JetDataModule
    from tagformer.errors import ConfigError
    from tagformer.search.fpga import check_fpga
    from tagformer.search.objectives import check_r08_convention

    configs = []
    for cand in [*corners(space), *(Candidate(r, r) for r in space.references)]:
        try:
            configs.append(cand.config(data, space.run))
        except ConfigError as exc:
            what = f"family {cand.family!r}" if cand.family in {f.name for f in space.families} else "reference"
            raise ConfigError(f"search space {space.source}, {what} ({cand.label()}): {exc}") from exc
    info = JetDataModule(configs[0].data).info
    if "r08" in space.metric_names:
        check_r08_convention(info.class_names)
    check_fpga(space, data)


def _worker_main(space: SearchSpace, data: str, out_dir: str, storage_url: str, study_name: str, trials: int,
                 index: int, heartbeat_s: float, grace_s: float, ready: Any) -> None:
    """A spawned worker process: open the study, signal ``ready``, work until the study is full."""
    from tagformer.search.trial import TrialRunner

    quiet_logs()
    try:
        storage = make_storage(storage_url)
        study = open_study(space, storage, study_name, data, worker_index=index)
        ready.set()
        work(study, storage, TrialRunner(space, data, Path(out_dir)), trials, heartbeat_s=heartbeat_s,
             grace_s=grace_s, log=lambda s: print(f"[worker {index}] {s}", flush=True))
    except TagformerError as exc:
        ready.set()
        print(f"[worker {index}] error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def run_search(space: SearchSpace | str | Path, data: str | Path, *, trials: int, out_dir: str | Path | None = None,
               storage: str | None = None, study_name: str | None = None, workers: int = 1, references: bool = True,
               report: bool = True, heartbeat_s: float = 30.0, grace_s: float = 300.0,
               log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run (or resume, or join) a search; returns the report's paths (see :func:`.report.write_report`).

    Parameters
    ----------
    space : a :class:`SearchSpace`, a space file or a packaged space name.
    data : the dataset (file, directory or glob).
    trials : the size of the study (all workers and restarts together).
    out_dir : where trial run directories, the SQLite database and the report go (default ``search/<name>``).
    storage : an Optuna RDB URL (default ``sqlite:///<out_dir>/study.db``).
    study_name : the study in the storage (default: the space's name).
    workers : worker processes on this machine (this one included).
    references : train the space's reference presets (in this process, before its trials).
    report : write the report when the study is full.
    heartbeat_s, grace_s : heartbeat interval of running trials, and the age after which a trial whose
        heartbeat stopped is taken for dead (workers on other nodes).
    log : receives one line per finished trial.
    """
    from tagformer.search.references import train_references
    from tagformer.search.report import write_report
    from tagformer.search.trial import TrialRunner

    require_optuna()
    if trials < 1:
        raise TagformerError(f"--trials must be >= 1, got {trials}")
    if workers < 1:
        raise TagformerError(f"--workers must be >= 1, got {workers}")
    space = space if isinstance(space, SearchSpace) else load_space(space)
    data = str(Path(data).resolve()) if Path(data).exists() else str(data)
    check_space(space, data)
    out = (Path(out_dir) if out_dir is not None else Path("search") / space.name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    url = storage or default_storage(out)
    name = study_name or space.name
    store = make_storage(url)
    study = open_study(space, store, name, data)
    log(f"search {name}: {trials} trials, {workers} worker(s), storage {url}, output {out}")
    procs = _spawn(space, data, out, url, name, trials, workers, heartbeat_s, grace_s)
    try:
        if references:
            train_references(space, data, out, study, log)
        work(study, store, TrialRunner(space, data, out), trials, heartbeat_s=heartbeat_s, grace_s=grace_s, log=log)
    except BaseException:
        for proc in procs:  # their running trials stay RUNNING and are recovered by the next start
            proc.terminate()
        raise
    finally:
        codes = [_join(p) for p in procs]
    failed = [i + 1 for i, c in enumerate(codes) if c not in (0, None)]
    if failed:
        raise TagformerError(f"worker process(es) {failed} stopped with an error (see above); rerun to resume")
    return write_report(study, out) if report else {}


def _spawn(space: SearchSpace, data: str, out: Path, url: str, name: str, trials: int, workers: int,
           heartbeat_s: float, grace_s: float) -> list[Any]:
    """Start ``workers - 1`` worker processes and wait until each has opened the study."""
    if workers <= 1:
        return []
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for index in range(1, workers):
        ready = ctx.Event()
        proc = ctx.Process(target=_worker_main, args=(space, data, str(out), url, name, trials, index, heartbeat_s,
                                                      grace_s, ready), name=f"tagformer-search-{index}")
        proc.start()
        procs.append((proc, ready))
    for _proc, ready in procs:
        ready.wait(timeout=300)
    return [p for p, _ in procs]


def _join(proc: Any) -> int | None:
    proc.join()
    return proc.exitcode


def require_optuna() -> None:
    """TagformerError naming the extra to install when Optuna is missing or older than 5 (constraints are set
    with ``Trial.set_constraint``, new in Optuna 5)."""
    try:
        import optuna
    except ImportError as exc:
        raise TagformerError("tagformer search needs Optuna >= 5: pip install 'tagformer[search]'") from exc
    if not hasattr(optuna.trial.Trial, "set_constraint"):
        raise TagformerError(f"tagformer search needs Optuna >= 5 (this is {optuna.__version__}): "
                             "pip install -U 'tagformer[search]'")


def open_existing(out_dir: str | Path, storage: str | None = None, study_name: str | None = None) -> Any:
    """The study of an earlier search (for ``--report``): its storage (default ``<out_dir>/study.db``) must
    exist; the study is ``study_name`` or the storage's only study."""
    import optuna

    out = Path(out_dir)
    if storage is None and not (out / "study.db").exists():
        raise TagformerError(f"{out} holds no study.db; pass --storage URL (and --study NAME) of the search")
    url = storage or default_storage(out)
    store = make_storage(url)
    names = optuna.study.get_all_study_names(store)
    if study_name is None:
        if len(names) != 1:
            raise TagformerError(f"storage {url} holds {len(names)} studies ({', '.join(names) or 'none'}); "
                                 "choose one with --study NAME")
        study_name = names[0]
    elif study_name not in names:
        raise TagformerError(f"storage {url} has no study {study_name!r} (studies: {', '.join(names) or 'none'})")
    return optuna.load_study(study_name=study_name, storage=store)
