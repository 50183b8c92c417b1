"""Search spaces as data: a YAML file read into a validated :class:`SearchSpace`.

Layout of a space file (``configs/search/default.yaml`` is the worked example)::

    name: default                  # the study name (default: the file name)
    objectives: [val_acc, flops]   # metric names (tagformer.search.objectives.METRICS)
    constraints: ["latency_ms <= 0.1", "params <= 20000"]    # optional
    references: [phat_small, deepsets_tiny]                   # presets trained at the same budget
    run:                           # every trial's training budget: a run-config fragment
      trainer: {max_epochs: 5, patience: 5}
    params:                        # searched for every family: dotted run-config keys
      data.num_particles: [16, 32, 64]
    families:
      phat:                        # a label; ``model`` defaults to it
        model: phat_small          # the model or preset whose arguments the parameters override
        params:                    # constructor arguments (``dim``) or dotted run-config keys (``optim.lr``)
          dim: [8, 16, 32]
          depth: {low: 1, high: 2}
    sampler: {population_size: 12, seed: 0}
    pruning: {monitor: val_acc, warmup_epochs: 1, dominated_by: 3}
    measure: {device: cpu, threads: 1, batch: 1}
    fpga: {bits: 8, clock_mhz: 200}   # how fpga_* metrics are measured (configs/search/fpga.yaml)
    train_infeasible: false        # train trials that already break a cost constraint?

Parameter forms are those of :mod:`tagformer.search.params`. :func:`load_space` refuses, with one
:class:`~tagformer.errors.ConfigError` and before anything is trained, an unknown top-level key, an unknown
family (model), an empty range or choice list, a constructor argument the model does not take, a dotted key
outside ``seed``/``data``/``optim``/``schedule``/``trainer``, an unknown objective or constrained metric and
an unknown reference preset. :func:`check_against_config` then builds the extreme configurations of every
family (first/last choice, low/high) through :func:`tagformer.config.build_config`, which catches bad
run-config keys and values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tagformer.errors import ConfigError, TagformerError
from tagformer.search.constraints import Constraint, parse_constraint
from tagformer.search.objectives import ALWAYS, FPGA_METRICS, METRICS, FpgaSettings, MeasureSettings
from tagformer.search.params import ParamSpec, parse_param

#: Sections of a run config a search parameter may set (``model`` belongs to the families).
RUN_SECTIONS = ("seed", "data", "optim", "schedule", "trainer")
_TOP_KEYS = ("name", "objectives", "constraints", "references", "run", "params", "families", "sampler", "pruning",
             "measure", "fpga", "train_infeasible")
_FAMILY_KEYS = ("model", "params")
_RESERVED = {*RUN_SECTIONS, "model", "family"}


class SamplerSettings(BaseModel):
    """NSGA-II settings: individuals per generation and the seed of the search."""

    model_config = ConfigDict(extra="forbid")
    population_size: int = Field(12, ge=2)
    seed: int = 0


class PruningSettings(BaseModel):
    """Stopping bad trials early (see :mod:`tagformer.search.pruning`)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    monitor: Literal["val_acc", "val_loss"] = "val_acc"
    warmup_epochs: int = Field(1, ge=0)
    dominated_by: int = Field(3, ge=1)


@dataclass(frozen=True)
class Family:
    """One model family of a space: the model (or preset) and its searched parameters."""

    name: str
    model: str
    params: tuple[ParamSpec, ...]

    def gene(self, spec: ParamSpec) -> str:
        """The Optuna parameter name of ``spec`` (``<family>.<key>``)."""
        return f"{self.name}.{spec.name}"


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space (see the module docstring for the file layout)."""

    name: str
    source: str
    families: tuple[Family, ...]
    shared: tuple[ParamSpec, ...]
    run: Mapping[str, Any]
    objectives: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    references: tuple[str, ...]
    measure: MeasureSettings
    sampler: SamplerSettings
    pruning: PruningSettings
    train_infeasible: bool
    fpga: FpgaSettings = field(default_factory=FpgaSettings)

    @property
    def directions(self) -> list[str]:
        return [METRICS[o].direction for o in self.objectives]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric a trial records: objectives, constrained metrics, then the always-recorded costs."""
        names = [*self.objectives, *(c.metric for c in self.constraints), *ALWAYS]
        return tuple(dict.fromkeys(names))

    @property
    def fpga_metrics(self) -> tuple[str, ...]:
        """The ``fpga`` metrics a trial records (empty: no fpga stage)."""
        return tuple(n for n in self.metric_names if n in FPGA_METRICS)

    def family(self, name: str) -> Family:
        for fam in self.families:
            if fam.name == name:
                return fam
        raise KeyError(name)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: what the study stores and what the report reads back (``fpga`` only when
        an fpga metric is recorded, so spaces without one keep the fingerprint they had before it existed)."""
        fpga = {"fpga": self.fpga.model_dump()} if self.fpga_metrics else {}
        return {
            "name": self.name,
            "objectives": list(self.objectives),
            "directions": self.directions,
            "constraints": [c.text for c in self.constraints],
            "references": list(self.references),
            "run": _plain(self.run),
            "shared": {p.name: p.describe() for p in self.shared},
            "families": {f.name: {"model": f.model, "params": {p.name: p.describe() for p in f.params}}
                         for f in self.families},
            "measure": self.measure.model_dump(),
            "pruning": self.pruning.model_dump(),
            "train_infeasible": self.train_infeasible,
            **fpga,
        }

    def fingerprint(self) -> str:
        """A hash of everything that decides a trial's result (not the name, references or population)."""
        d = self.describe()
        for key in ("name", "references"):
            d.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def packaged_spaces() -> list[str]:
    """Names of the search spaces shipped in ``tagformer/configs/search``."""
    folder = resources.files("tagformer") / "configs" / "search"
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _locate(source: str | Path) -> tuple[str, str]:
    """(text, source label) of a space file path or a packaged space name (``default`` or
    ``configs/search/default.yaml`` when no such file exists here)."""
    path = Path(source)
    if path.is_file():
        try:
            return path.read_text(), str(path)
        except OSError as exc:
            raise ConfigError(f"cannot read search space {path}: {exc.strerror or exc}") from exc
    name = str(source)
    if path.suffix in (".yaml", ".yml") and path.parent.as_posix() in (".", "configs/search"):
        name = path.stem  # configs/search/NAME.yaml (as in the source tree) is the packaged NAME
    ref = resources.files("tagformer") / "configs" / "search" / f"{name}.yaml"
    if name and "/" not in name and ref.is_file():
        return ref.read_text(), f"configs/search/{name}.yaml"
    raise ConfigError(f"search space {str(source)!r} is neither a file nor a packaged space "
                      f"(packaged: {', '.join(packaged_spaces()) or 'none'})")


def load_space(source: str | Path) -> SearchSpace:
    """Read and validate a search space: a YAML file path or the name of a packaged space.

    Raises
    ------
    ConfigError
        For anything wrong with the space (one sentence naming the file and the entry).
    """
    text, where = _locate(source)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"search space {where} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"search space {where} must hold a mapping at the top level")
    default_name = Path(where).name.removesuffix(".yaml").removesuffix(".yml")
    return parse_space(raw, where, default_name)


def parse_space(raw: Mapping[str, Any], where: str, default_name: str = "search") -> SearchSpace:
    """Validate the mapping of a space file (see :func:`load_space`)."""
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in search space {where}; "
                          f"allowed: {', '.join(_TOP_KEYS)}")
    objectives = _objectives(raw.get("objectives", ["val_acc", "flops"]), where)
    names = tuple(METRICS)
    constraints = tuple(parse_constraint(c, names, where) for c in _list(raw.get("constraints"), "constraints", where))
    run = raw.get("run") or {}
    _check_run(run, where)
    shared = tuple(_shared_param(k, v, where) for k, v in _mapping(raw.get("params"), "params", where).items())
    families = _families(raw.get("families"), where)
    references = tuple(str(r) for r in _list(raw.get("references"), "references", where))
    _check_references(references, where)
    return SearchSpace(
        name=str(raw.get("name") or default_name),
        source=where,
        families=families,
        shared=shared,
        run=dict(run),
        objectives=objectives,
        constraints=constraints,
        references=references,
        measure=_settings(MeasureSettings, raw.get("measure"), "measure", where),
        sampler=_settings(SamplerSettings, raw.get("sampler"), "sampler", where),
        pruning=_settings(PruningSettings, raw.get("pruning"), "pruning", where),
        train_infeasible=bool(raw.get("train_infeasible", False)),
        fpga=_settings(FpgaSettings, raw.get("fpga"), "fpga", where),
    )


def _settings(cls: type[BaseModel], raw: Any, key: str, where: str) -> Any:
    try:
        return cls.model_validate(raw or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"bad {key}.{loc} in search space {where}: {err['msg']}") from exc


def _list(value: Any, key: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{key} in search space {where} must be a list")
    return value


def _mapping(value: Any, key: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key} in search space {where} must be a mapping")
    return value


def _objectives(value: Any, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else _list(value, "objectives", where)
    if not names:
        raise ConfigError(f"search space {where} names no objective; choose from {', '.join(METRICS)}")
    for name in names:
        if name not in METRICS:
            raise ConfigError(f"unknown objective {name!r} in search space {where}; choose from {', '.join(METRICS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"search space {where} lists an objective twice: {names}")
    return tuple(str(n) for n in names)


def _check_run(run: Any, where: str) -> None:
    if not isinstance(run, dict):
        raise ConfigError(f"run in search space {where} must be a run-config mapping (trainer:, data:, ...)")
    bad = sorted(set(run) - set(RUN_SECTIONS))
    if bad:
        raise ConfigError(f"run in search space {where} may set only {', '.join(RUN_SECTIONS)}, not "
                          f"{', '.join(bad)} (models belong to the families)")
    if isinstance(run.get("data"), dict) and "path" in run["data"]:
        raise ConfigError(f"run.data.path in search space {where}: the dataset is given with --data")


def _run_key(key: str, what: str, where: str) -> None:
    section = key.split(".")[0]
    if key != "seed" and (section not in RUN_SECTIONS or "." not in key or section == "seed"):
        raise ConfigError(f"{what} {key!r} in search space {where} is not a run-config key: dotted keys start with "
                          f"{', '.join(s for s in RUN_SECTIONS if s != 'seed')} (or are 'seed')")
    if key == "data.path":
        raise ConfigError(f"{what} 'data.path' in search space {where}: the dataset is given with --data")


def _shared_param(key: str, raw: Any, where: str) -> ParamSpec:
    _run_key(str(key), "shared parameter", where)
    return parse_param(str(key), raw, f"search space {where}")


def _families(raw: Any, where: str) -> tuple[Family, ...]:
    from tagformer.models.registry import CONTEXT_ARGS, list_models, resolve

    fams = _mapping(raw, "families", where)
    if not fams:
        raise ConfigError(f"search space {where} has no families; add at least one (e.g. phat: {{...}})")
    out = []
    for name, body in fams.items():
        name = str(name)
        if name in _RESERVED or "." in name:
            raise ConfigError(f"family name {name!r} in search space {where} is reserved or dotted; rename it")
        body = _mapping(body, f"family {name!r}", where)
        unknown = sorted(set(body) - set(_FAMILY_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in family {name!r} of search space "
                              f"{where}; allowed: {', '.join(_FAMILY_KEYS)}")
        model = str(body.get("model") or name)
        try:
            entry, _ = resolve(model)
        except TagformerError as exc:
            raise ConfigError(f"unknown family {name!r} in search space {where}: no model or preset {model!r} "
                              f"(models: {', '.join(list_models())}; set model: to choose one)") from exc
        where_f = f"family {name!r} of search space {where}"
        params = []
        for key, value in _mapping(body.get("params"), f"params of family {name!r}", where).items():
            key = str(key)
            if "." in key or key == "seed":
                _run_key(key, "parameter", where_f)
            elif key not in entry.arguments or key in CONTEXT_ARGS:
                takes = ", ".join(a for a in entry.arguments if a not in CONTEXT_ARGS)
                raise ConfigError(f"model {entry.name!r} takes no argument {key!r} ({where_f}); it takes: {takes}")
            params.append(parse_param(key, value, where_f))
        out.append(Family(name, model, tuple(params)))
    return tuple(out)


def _check_references(references: tuple[str, ...], where: str) -> None:
    from tagformer.models.registry import resolve

    for ref in references:
        try:
            resolve(ref)
        except TagformerError as exc:
            raise ConfigError(f"unknown reference {ref!r} in search space {where}: {exc}") from exc
