"""Typed run configuration: base YAML + per-model YAML + user file + dotted overrides.

Merge order (later wins): the packaged ``configs/base.yaml``, the packaged ``configs/<model>.yaml`` (and
``configs/<preset>.yaml`` when a preset is named) if present, the user's ``--config`` file, command-line
flags (``--model``, ``--data``), then dotted ``key=value`` overrides whose values are parsed with
``yaml.safe_load`` (never ``eval``). Every section forbids unknown keys; model arguments are checked
against the model's constructor through the registry.

The model name is resolved by the registry once per config (:func:`resolve_model`); the result rides on
the validated config as ``cfg.model.choice`` (entry and preset) for everything downstream.

Values that cannot work are refused here with the key's name, before any data is read: seeds outside
``[0, 2**32 - 1]`` (what numpy and Lightning accept), an unknown ``trainer.accelerator``, batch limits
that are not positive, sections that are not mappings (``data: 5``, ``model: [...]``), and model sizes
the registry rejects (:func:`tagformer.models.registry.model_kwargs`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from tagformer.data.config import DataConfig
from tagformer.errors import ConfigError, TagformerError

if TYPE_CHECKING:
    from tagformer.models.registry import ModelEntry


@dataclass(frozen=True)
class ModelChoice:
    """A model or preset name as the registry resolved it.

    Attributes
    ----------
    name : the name as given (model or preset).
    entry : the registry entry (class, presets, capabilities).
    preset : the preset ``name`` selects (the model's default preset when ``name`` is a model).
    """

    name: str
    entry: ModelEntry
    preset: str


def resolve_model(name: str) -> ModelChoice:
    """Resolve ``name`` with :func:`tagformer.models.registry.resolve`; ConfigError if it is unknown."""
    from tagformer.models import registry

    try:
        entry, preset = registry.resolve(str(name))
    except TagformerError as exc:
        raise ConfigError(str(exc)) from exc
    return ModelChoice(str(name), entry, preset)


#: Largest seed numpy's and Lightning's seeding accept.
MAX_SEED = 2**32 - 1
#: ``trainer.accelerator`` values (Lightning's names); availability is checked when training starts.
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
#: The sections of a run configuration; each must be a mapping.
SECTIONS = ("data", "model", "optim", "schedule", "trainer", "finetune")  # ``tasks`` is a list


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(BaseModel):
    """``name`` is a model or preset name; every other key is a constructor override for the model."""

    model_config = ConfigDict(extra="allow")
    name: str = "transformer"
    _choice: ModelChoice | None = PrivateAttr(default=None)

    @property
    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def choice(self) -> ModelChoice:
        """What ``name`` resolves to: set once when the config is validated (resolved again only if
        ``name`` was changed since)."""
        if self._choice is None or self._choice.name != self.name:
            self._choice = resolve_model(self.name)
        return self._choice


class OptimConfig(_Strict):
    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9


class ScheduleConfig(_Strict):
    """Learning-rate schedule: linear warm-up over ``warmup_fraction`` of all steps, then ``name``."""

    name: Literal["cosine", "onecycle", "constant"] = "cosine"
    warmup_fraction: float = Field(0.05, ge=0, lt=1)
    min_lr_ratio: float = Field(0.01, ge=0, le=1)


class TrainerConfig(_Strict):
    max_epochs: int = Field(20, ge=1)
    max_time_s: float | None = Field(None, gt=0)  # stop after this much training time (resume counts it)
    patience: int = Field(5, ge=1)
    monitor: Literal["val_loss", "val_acc"] = "val_loss"
    grad_clip: float | None = Field(1.0, gt=0)
    accelerator: str = "auto"
    devices: int = Field(1, ge=1)
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = "auto"
    checkpoint_every_n_steps: int = Field(50, ge=1)
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    log_every_n_steps: int = Field(10, ge=1)
    deterministic: bool = True
    progress: bool = True
    threads: int | None = Field(None, ge=1)
    #: ``torch.compile`` the training step: ``auto`` (the per-device default documented in docs/training.md),
    #: ``true`` or ``false``. Compiled and eager agree within rounding.
    compile: bool | Literal["auto"] = "auto"
    #: batch size by epoch, ``{first_epoch: batch_size}`` (e.g. ``{0: 128, 5: 1024, 10: 4096}``); epochs before the
    #: first key use ``data.batch_size``. None: ``data.batch_size`` throughout.
    batch_schedule: dict[int, int] | None = None

    @field_validator("batch_schedule")
    @classmethod
    def _schedule_positive(cls, value: dict[int, int] | None) -> dict[int, int] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("must map at least one epoch to a batch size, e.g. {0: 128, 10: 1024}")
        for epoch, size in value.items():
            if epoch < 0 or size < 1:
                raise ValueError(f"epochs must be >= 0 and batch sizes >= 1, got {epoch}: {size}")
        return dict(sorted(value.items()))

    @field_validator("accelerator")
    @classmethod
    def _known_accelerator(cls, value: str) -> str:
        if str(value).lower() not in ACCELERATORS:
            raise ValueError(f"unknown accelerator {value!r}; choose one of {', '.join(ACCELERATORS)}")
        return str(value).lower()

    @field_validator("limit_train_batches", "limit_val_batches")
    @classmethod
    def _positive_limit(cls, value: int | float | None) -> int | float | None:
        """A number of batches (integer >= 1) or a fraction of them in (0, 1]; None = all."""
        if value is None:
            return value
        if isinstance(value, bool) or not (value > 0 and (isinstance(value, int) or value <= 1.0)):
            raise ValueError(f"must be a number of batches >= 1 or a fraction in (0, 1], got {value!r}")
        return value


class FinetuneConfig(_Strict):
    """Start from a pretraining run (``tagformer pretrain``): its encoder and input normalisation are loaded
    into the new tagger before training; ``freeze_encoder`` trains the heads only (a linear probe)."""

    init_from: str | None = None
    freeze_encoder: bool = False

    @model_validator(mode="after")
    def _freeze_needs_init(self) -> FinetuneConfig:
        if self.freeze_encoder and not self.init_from:
            raise ValueError("finetune.freeze_encoder needs finetune.init_from (a frozen random encoder learns "
                             "nothing); pass --init-from RUN")
        return self


#: What a task of each kind reads by default.
DEFAULT_TARGET = {"classification": "labels", "regression": "mass"}


class TaskConfig(_Strict):
    """One task of the run (``tasks:`` list). ``name`` names the head (default: the kind); ``target`` is
    ``labels`` or a named per-jet target of the data (default: ``mass`` for regression); ``weight`` is the
    task's factor in the total loss; ``loss``, ``log_target`` and ``hidden`` apply to regression."""

    kind: Literal["classification", "regression"] = "classification"
    name: str | None = None
    target: str | None = None
    weight: float = Field(1.0, ge=0)
    loss: Literal["huber", "l1", "mse"] = "huber"
    log_target: bool = False
    hidden: int = Field(0, ge=0)

    @property
    def head_name(self) -> str:
        return self.name or self.kind

    @property
    def target_name(self) -> str:
        return self.target or DEFAULT_TARGET[self.kind]


class RunSections(_Strict):
    """The sections every run directory's ``config.yaml`` has (training and pretraining runs alike)."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    data: DataConfig
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    trainer: TrainerConfig = TrainerConfig()

    @model_validator(mode="after")
    def _data_seed_in_range(self) -> RunSections:
        if not 0 <= self.data.seed <= MAX_SEED:
            raise ValueError(f"data.seed must be in [0, {MAX_SEED}], got {self.data.seed}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class RunConfig(RunSections):
    """Everything one training run needs; saved as ``config.yaml`` in the run directory."""

    tasks: list[TaskConfig] = Field(default_factory=lambda: [TaskConfig()])
    finetune: FinetuneConfig = FinetuneConfig()

    @model_validator(mode="after")
    def _tasks_consistent(self) -> RunConfig:
        """At least one task, unique head names, and every regression target read from the data."""
        if not self.tasks:
            raise ValueError("tasks is empty; give at least one task (e.g. tasks: [{kind: classification}])")
        names = [t.head_name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task head names must be unique, got {names}; set tasks[i].name")
        for name in names:
            if not name.isidentifier():
                raise ValueError(f"task name {name!r} must be an identifier (it names a head)")
        for task in self.tasks:
            if task.target_name != "labels" and task.target_name not in self.data.targets:
                self.data.targets.append(task.target_name)
        single_cls = len(self.tasks) == 1 and self.tasks[0].kind == "classification"
        if self.trainer.monitor == "val_acc" and not single_cls:
            raise ValueError("trainer.monitor=val_acc needs a single classification task (with several tasks or a "
                             "regression task the logged metrics are per head); use trainer.monitor=val_loss")
        return self


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text (UTF-8) file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def recipe_names() -> list[str]:
    """Names of the packaged recipes (``configs/recipes/<name>.yaml``), usable as ``--config <name>``."""
    folder = resources.files("tagformer") / "configs" / "recipes"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_user_config(config_file: str | Path) -> dict[str, Any]:
    """The ``--config`` file: a path, or the name of a packaged recipe (``phat_paper``, ``salt_paper``; see
    :func:`recipe_names`) when no such file exists. ConfigError naming both choices otherwise."""
    path = Path(config_file)
    if path.exists():
        return read_yaml(path)
    name = path.name.removesuffix(".yaml")
    if len(path.parts) <= 2 and name in recipe_names():  # "phat_paper", "recipes/phat_paper(.yaml)"
        return packaged_config(f"recipes/{name}") or {}
    raise ConfigError(f"config file {config_file} does not exist (nor is it a packaged recipe: "
                      f"{', '.join(recipe_names())})")


def packaged_config(name: str) -> dict[str, Any] | None:
    """The packaged ``configs/<name>.yaml`` as a dict, or None if there is none."""
    ref = resources.files("tagformer") / "configs" / f"{name}.yaml"
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path:
        return read_yaml(Path(path))


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; values in ``update`` win, nested mappings merge."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["trainer.max_epochs=3", "model.dim=32"]`` -> nested dict; values via ``yaml.safe_load``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. trainer.max_epochs=3)")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value {raw!r}") from exc
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string; numbers should be numbers
            try:
                value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
            except ValueError:
                pass
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return out


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown config key {loc!r} in {source}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across sections (model_validator)
        return f"bad config in {source}: {msg}"
    return f"bad config value for {loc!r} in {source}: {msg}"


def check_sections(raw: Mapping[str, Any], source: str) -> None:
    """ConfigError if a section of ``raw`` (``data``, ``model``, ...) is present but not a mapping."""
    for key in SECTIONS:
        value = raw.get(key)
        if value is not None and not isinstance(value, Mapping):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise ConfigError(f"config section {key!r} in {source} must be a mapping (indented 'key: value' lines "
                              f"under '{key}:'), got {type(value).__name__} {shown}")


def validate_config(raw: Mapping[str, Any], source: str = "the merged config",
                    choice: ModelChoice | None = None) -> RunConfig:
    """Validate a merged dict into a :class:`RunConfig`, checking data and model keys too.

    ``choice`` is the already resolved model when the caller has it (else ``model.name`` is resolved here).
    """
    check_sections(raw, source)
    data = raw.get("data") or {}
    if not data.get("path"):
        raise ConfigError("no dataset given: pass --data PATH (or set data.path in the config)")
    try:
        cfg = RunConfig.model_validate({**raw, "data": dict(data)})
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from exc
    if choice is not None and choice.name == cfg.model.name:
        cfg.model._choice = choice
    from tagformer.models.registry import model_kwargs

    try:
        model_kwargs(cfg.model.name, **cfg.model.overrides)
    except TagformerError as exc:
        raise ConfigError(f"{exc} (config: {source})") from exc
    return cfg


def build_config(
    *,
    model: str | None = None,
    data: str | None = None,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    base: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Merge base, per-model, user and command-line settings into a validated :class:`RunConfig`.

    ``base`` replaces the packaged ``base.yaml`` (used when resuming from a saved config).
    """
    dotted = parse_overrides(overrides)
    check_sections(dotted, "the command-line overrides")
    user = read_user_config(config_file) if config_file else {}
    check_sections(user, str(config_file))
    merged = saved_model_arguments(base) if base is not None else (packaged_config("base") or {})
    check_sections(merged, "the saved config" if base is not None else "configs/base.yaml")
    name = (dotted.get("model") or {}).get("name") or model or (user.get("model") or {}).get("name")
    name = name or (merged.get("model") or {}).get("name") or ModelConfig().name
    choice = resolve_model(str(name))
    if base is None:
        for key in dict.fromkeys([choice.entry.name, choice.name]):
            extra = packaged_config(key)
            if extra:
                merged = deep_merge(merged, extra)
    merged = deep_merge(merged, user)
    flags: dict[str, Any] = {}
    if model:
        flags["model"] = {"name": model}
    if data:
        flags["data"] = {"path": str(data)}
    merged = deep_merge(merged, flags)
    merged = deep_merge(merged, dotted)
    source = f"{config_file}" if config_file else "the merged config"
    user_ordering = (dotted.get("data") or {}).get("ordering") or (user.get("data") or {}).get("ordering")
    if base is not None:  # a saved config: its ordering was already decided
        user_ordering = user_ordering or (base.get("data") or {}).get("ordering")
    final = str((merged.get("model") or {}).get("name") or choice.name)
    if final != choice.name:  # a packaged model config renamed the model
        choice = resolve_model(final)
    merged = _apply_model_ordering(merged, choice.entry, user_ordering)
    if base is None:  # a new run names its model's pinned arguments (models.registry.pin_arguments)
        merged = _pin_model_arguments(merged, choice)
    return validate_config(merged, source, choice)


def _pin_model_arguments(merged: dict[str, Any], choice: ModelChoice) -> dict[str, Any]:
    from tagformer.models.registry import pin_arguments

    model = dict(merged.get("model") or {})
    try:
        pins = pin_arguments(choice.name, {k: v for k, v in model.items() if k != "name"})
    except TagformerError:
        return merged
    return {**merged, "model": {**model, **pins}} if pins else merged


def _apply_model_ordering(merged: dict[str, Any], entry: ModelEntry, user_ordering: str | None) -> dict[str, Any]:
    """Default the data ordering to the one the model declares; warn if the user asked for another."""
    wanted = entry.capabilities.order_dependent
    if not wanted:
        return merged
    if user_ordering and user_ordering != wanted:
        warnings.warn(
            f"model {entry.name!r} expects particles ordered by {wanted!r} but data.ordering={user_ordering!r} "
            "was requested; keeping the requested ordering",
            UserWarning,
            stacklevel=3,
        )
        return merged
    return deep_merge(merged, {"data": {"ordering": wanted}})


def save_config(cfg: RunConfig, path: Path) -> None:
    """Write ``cfg`` as YAML to ``path`` atomically."""
    from tagformer.atomic import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def saved_model_arguments(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A saved run config with the model arguments it was built with made explicit: a config saved before
    an argument was pinned gets the value its preset had then (:func:`tagformer.models.registry.saved_arguments`;
    e.g. the earlier choices of ``salt``), so a preset change never changes what a saved run builds."""
    from tagformer.models.registry import saved_arguments

    model = raw.get("model")
    if not isinstance(model, Mapping) or not model.get("name"):
        return dict(raw)
    try:
        extra = saved_arguments(str(model["name"]), {k: v for k, v in model.items() if k != "name"})
    except TagformerError:  # an unknown model: validation says so
        return dict(raw)
    return {**raw, "model": {**model, **extra}} if extra else dict(raw)


def read_saved_config(path: Path) -> dict[str, Any]:
    """A run directory's ``config.yaml`` as a mapping, with :func:`saved_model_arguments` applied."""
    return saved_model_arguments(read_yaml(path))


def load_config(path: Path) -> RunConfig:
    """Read a saved ``config.yaml`` back (raises ConfigError naming the file on problems)."""
    return validate_config(read_saved_config(path), str(path))
