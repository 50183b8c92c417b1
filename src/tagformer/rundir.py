"""The run directory: its layout in one place (:class:`RunDir`) and :func:`load_run` for evaluation and export.

Layout of a run directory written by ``tagformer train`` (and completed by ``evaluate`` / ``export``)::

    RUN/config.yaml               merged, validated configuration
    RUN/normaliser.json           feature normalisation fitted on the training split (also inside the weights)
    RUN/dataset.json              dataset info (format, classes, features, particles, ordering, truncation)
    RUN/checkpoints/last.ckpt     full Lightning state (every K steps and each epoch; for --resume)
    RUN/checkpoints/best.pt       best-epoch model weights {"state_dict", "meta"}
    RUN/metrics.csv               one row per completed epoch
    RUN/wall_time.json            training wall time so far (carried across resumes)
    RUN/logs/                     Lightning CSV logs (and TensorBoard when installed)
    RUN/summary.json              model, preset, params, FLOPs per jet, best epoch, val metrics, wall time
    RUN/metrics.json              test metrics written by ``tagformer evaluate``
    RUN/roc.png, RUN/confusion.png  evaluation plots
    RUN/export/                   ``tagformer export`` output (model.onnx, model.int8.onnx, export.json)

Weights saved before the encoder/heads split (closed classifiers fed normalised features) are upgraded on
load with :func:`tagformer.models.legacy.upgrade_state_dict` and the run's ``normaliser.json``, so old
runs evaluate and export like new ones. Writes go through :mod:`tagformer.atomic`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.config import RunConfig, load_config
from tagformer.data.config import DataConfig
from tagformer.data.info import DatasetInfo
from tagformer.errors import DataError, OutputError, TagformerError

if TYPE_CHECKING:
    from tagformer.models.tagger import Tagger

CONFIG = "config.yaml"
NORMALISER = "normaliser.json"
DATASET = "dataset.json"
CHECKPOINTS = "checkpoints"
LAST_CKPT = "last.ckpt"
BEST_WEIGHTS = "best.pt"
METRICS_CSV = "metrics.csv"
WALL_TIME = "wall_time.json"
LOGS = "logs"
SUMMARY = "summary.json"
METRICS = "metrics.json"
ROC_PLOT = "roc.png"
CONFUSION_PLOT = "confusion.png"
EXPORT = "export"


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created or read by building it)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def normaliser(self) -> Path:
        return self.root / NORMALISER

    @property
    def dataset(self) -> Path:
        return self.root / DATASET

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def last_ckpt(self) -> Path:
        return self.checkpoints / LAST_CKPT

    @property
    def best_weights(self) -> Path:
        return self.checkpoints / BEST_WEIGHTS

    @property
    def metrics_csv(self) -> Path:
        return self.root / METRICS_CSV

    @property
    def wall_time(self) -> Path:
        return self.root / WALL_TIME

    @property
    def logs(self) -> Path:
        return self.root / LOGS

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def metrics(self) -> Path:
        return self.root / METRICS

    @property
    def roc_plot(self) -> Path:
        return self.root / ROC_PLOT

    @property
    def confusion_plot(self) -> Path:
        return self.root / CONFUSION_PLOT

    @property
    def export(self) -> Path:
        return self.root / EXPORT

    def is_run(self) -> bool:
        """A tagformer run directory: ``config.yaml`` plus at least one other file that ``tagformer train``
        writes (``normaliser.json``, ``dataset.json``, ``checkpoints/`` or ``summary.json``), so that a
        directory holding only the user's own ``config.yaml`` is not mistaken for a run."""
        return self.config.is_file() and any(p.exists() for p in (self.normaliser, self.dataset, self.checkpoints,
                                                                  self.summary))

    def check_new(self) -> None:
        """Refuse to start a new run here unless the directory is absent or empty (never overwrite a file).

        Raises
        ------
        OutputError
            If the path is a file, already holds a tagformer run (``--resume`` continues it) or holds
            anything else.
        """
        root = self.root
        if root.exists() and not root.is_dir():
            raise OutputError(f"run directory {root} is a file, not a directory; choose another --run-dir")
        if self.is_run():
            raise OutputError(f"run directory {root} already holds a run; pass --resume to continue it or choose "
                              "another --run-dir")
        if root.is_dir():
            entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
            if entries:
                shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
                raise OutputError(f"run directory {root} is not empty and is not a tagformer run ({shown}); train "
                                  "into a new or empty directory so that none of these files is overwritten")

    def is_finished(self) -> bool:
        """Training finished (``summary.json`` written)."""
        return self.summary.exists()

    def is_evaluated(self) -> bool:
        """``tagformer evaluate`` wrote ``metrics.json``."""
        return self.metrics.exists()

    def metrics_are_fresh(self) -> bool:
        """``metrics.json`` exists and is not older than the best weights (re-evaluation not needed)."""
        return (self.metrics.exists() and self.best_weights.exists()
                and self.metrics.stat().st_mtime >= self.best_weights.stat().st_mtime)


def read_json(path: Path, what: str, kind: type = dict) -> Any:
    """A required JSON file of a run; :class:`DataError` naming it when missing, unreadable, not JSON or
    not a ``kind`` (a JSON object by default)."""
    if not path.exists():
        raise DataError(f"incomplete run: {path} is missing ({what})")
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read {path} ({what}): {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {path} ({what}): the file is corrupt, not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else kind.__name__
        raise DataError(f"cannot read {path} ({what}): the file is corrupt, expected JSON {expected} but found "
                        f"{type(value).__name__}")
    return value


@dataclass
class LoadedRun:
    """A trained run, ready for evaluation or export.

    Attributes
    ----------
    run_dir : the run directory.
    model : the :class:`~tagformer.models.tagger.Tagger` with the best-epoch weights (input normalisation
        included: it takes raw features), in eval mode, on CPU.
    config : the merged run configuration (``config.yaml``).
    data_config : the run's :class:`~tagformer.data.config.DataConfig`.
    normaliser_state : the feature normalisation fitted at training time (``normaliser.json``).
    info : dataset info (class names, features, particles).
    summary : ``summary.json`` if the run finished, else an empty dict.
    best : metadata of the best checkpoint (epoch, monitor, score, global_step).
    legacy : the weights were saved before the encoder/heads split and were upgraded on load.
    """

    run_dir: Path
    model: Tagger
    config: RunConfig
    data_config: DataConfig
    normaliser_state: dict[str, Any]
    info: DatasetInfo
    summary: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    legacy: bool = False

    @property
    def paths(self) -> RunDir:
        return RunDir(self.run_dir)


def load_weights(path: Path) -> dict[str, Any]:
    """Read a ``best.pt`` file safely (``weights_only=True``): ``{"state_dict": ..., "meta": ...}``."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise TagformerError(f"incomplete run: {path} is missing (no validation epoch finished yet)") from exc
    except Exception as exc:  # a torn or foreign file
        raise TagformerError(f"cannot load checkpoint {path}: {exc}") from exc
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise TagformerError(f"checkpoint {path} is not a tagformer {BEST_WEIGHTS} file")
    return blob


def _check_normaliser(state: Any, info: DatasetInfo, path: Path) -> dict[str, Any]:
    from tagformer.data.normalise import Normaliser

    try:
        norm = Normaliser.from_state(state)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    if len(norm.mean) != info.in_features:
        raise DataError(f"{path} holds {len(norm.mean)} features but the run's dataset info has "
                        f"{info.in_features}")
    return state


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load ``run_dir``: best weights into a freshly built model (eval mode), plus config and data info.

    Weights in the pre-split layout (:func:`tagformer.models.legacy.is_legacy_state_dict`) are mapped
    onto today's tagger, with the input normalisation taken from the run's ``normaliser.json``.

    Raises
    ------
    TagformerError
        If the directory is missing, lacks the config, dataset info, normaliser or best checkpoint, or
        its weights do not fit the model its config names.
    """
    from tagformer.models.legacy import is_legacy_state_dict, upgrade_state_dict
    from tagformer.models.registry import create_model
    from tagformer.tasks import attach_heads, build_tasks

    paths = RunDir(run_dir)
    if paths.root.exists() and not paths.root.is_dir():
        raise TagformerError(f"{paths.root} is a file, not a run directory")
    if not paths.root.is_dir():
        raise TagformerError(f"run directory {paths.root} does not exist")
    if not paths.is_run():
        raise TagformerError(f"{paths.root} is not a tagformer run directory (no {CONFIG} next to the files "
                             "`tagformer train` writes)")
    config = load_config(paths.config)
    info = DatasetInfo.from_dict(read_json(paths.dataset, "dataset info"),
                                 feature_set=config.data.feature_set, ordering=config.data.ordering)
    normaliser = _check_normaliser(read_json(paths.normaliser, "feature normalisation"), info, paths.normaliser)
    blob = load_weights(paths.best_weights)
    model = create_model(config.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=info.num_particles, **config.model.overrides)
    model = attach_heads(model, build_tasks(config.tasks, info.num_classes))  # the run's heads (regression too)
    state = blob["state_dict"]
    legacy = is_legacy_state_dict(state)
    try:
        model.load_state_dict(upgrade_state_dict(state, model, normaliser) if legacy else state)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "(saved before the encoder/heads split) " if legacy else ""
        raise TagformerError(f"the checkpoint {paths.best_weights} {kind}does not match model "
                             f"{config.model.name!r} as this version builds it ({first}); retrain the run "
                             "with this version") from exc
    model.eval()
    summary = read_json(paths.summary, "training summary") if paths.is_finished() else {}
    return LoadedRun(run_dir=paths.root, model=model, config=config, data_config=config.data,
                     normaliser_state=normaliser, info=info, summary=summary, best=dict(blob.get("meta", {})),
                     legacy=legacy)
