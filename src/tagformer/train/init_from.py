"""Start a tagger from a pretraining run: load its encoder and input normalisation, optionally freeze them.

``tagformer train --init-from RUN [--freeze-encoder]`` calls :func:`load_pretrained_encoder` on the freshly
built tagger (before training starts) and, for a linear probe, :func:`freeze_encoder`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L

from tagformer.errors import TagformerError

if TYPE_CHECKING:
    from tagformer.data.config import DataConfig
    from tagformer.models.tagger import Tagger

#: The config section that marks a pretraining run (``tagformer pretrain`` writes it into ``config.yaml``).
PRETRAIN_SECTION = "pretrain"
#: State-dict prefixes a pretraining run provides.
PREFIXES = ("input_norm.", "encoder.")


@dataclass(frozen=True)
class Pretrained:
    """What was loaded: the run, its method, model, preset, overrides and the loaded key count."""

    run_dir: Path
    method: str
    model: str
    preset: str
    overrides: dict[str, Any]
    keys: int


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(saved config mapping, best-weights state dict) of a pretraining run; TagformerError otherwise."""
    from tagformer.config import read_saved_config
    from tagformer.rundir import RunDir, load_weights

    paths = RunDir(run_dir)
    if not paths.root.is_dir():
        raise TagformerError(f"--init-from {paths.root}: no such run directory")
    if not paths.is_run():
        raise TagformerError(f"--init-from {paths.root}: not a tagformer run directory")
    raw = read_saved_config(paths.config)
    if not isinstance(raw.get(PRETRAIN_SECTION), Mapping):
        raise TagformerError(f"--init-from {paths.root}: this is a training (classifier) run, not a pretraining "
                             "run; give the directory written by `tagformer pretrain`")
    state = load_weights(paths.best_weights)["state_dict"]
    if not any(k.startswith("encoder.") for k in state):
        raise TagformerError(f"--init-from {paths.root}: {paths.best_weights} holds no encoder weights")
    return raw, state


def _same_model(raw: Mapping[str, Any], model: str, overrides: Mapping[str, Any]) -> tuple[str, str, dict]:
    """(model, preset, overrides) of the run; TagformerError if they differ from ``model``/``overrides``."""
    from tagformer.models.registry import resolve

    saved = dict(raw.get("model") or {})
    name = str(saved.pop("name", ""))
    entry, preset = resolve(name)
    want_entry, want_preset = resolve(model)
    want = {k: v for k, v in overrides.items() if v is not None}
    if (entry.name, preset) != (want_entry.name, want_preset) or saved != want:
        raise TagformerError(f"--init-from: the pretraining run holds {preset!r} with overrides {saved} but this run "
                             f"builds {want_preset!r} with overrides {want}; the encoder architecture must be the "
                             "same (use the same --model and model.* overrides)")
    return entry.name, preset, saved


def _same_data(raw: Mapping[str, Any], data: DataConfig) -> None:
    saved = dict(raw.get("data") or {})
    for key in ("feature_set", "num_particles", "ordering"):
        if key in saved and saved[key] != getattr(data, key):
            raise TagformerError(f"--init-from: the pretraining run used data.{key}={saved[key]!r} but this run uses "
                                 f"{getattr(data, key)!r}; the encoder's inputs must be the same")


def load_pretrained_encoder(tagger: Tagger, run_dir: str | Path, *, model: str | None = None,
                            overrides: Mapping[str, Any] | None = None, data: DataConfig | None = None) -> Pretrained:
    """Copy the encoder and input-normalisation weights of pretraining run ``run_dir`` into ``tagger``.

    ``model``/``overrides`` (the fine-tuning run's ``model.name`` and model overrides) and ``data`` (its data
    config), when given, must describe the same encoder and inputs as the pretraining run. Every
    ``input_norm.*`` and ``encoder.*`` weight must exist in ``tagger`` with the same shape; heads are left as
    they are.

    Raises
    ------
    TagformerError
        Not a pretraining run (e.g. a classifier run), missing weights, or a mismatched architecture.
    """
    import torch

    run_dir = Path(run_dir)
    raw, state = _read_run(run_dir)
    name, preset, saved_over = (_same_model(raw, model, overrides or {}) if model is not None
                                else ("", "", dict(raw.get("model") or {})))
    if data is not None:
        _same_data(raw, data)
    own = tagger.state_dict()
    wanted = {k: v for k, v in state.items() if k.startswith(PREFIXES)}
    mine = {k for k in own if k.startswith(PREFIXES)}
    missing, extra = sorted(mine - set(wanted)), sorted(set(wanted) - mine)
    wrong = [k for k in sorted(mine & set(wanted)) if tuple(own[k].shape) != tuple(wanted[k].shape)]
    if missing or extra or wrong:
        what = (f"{wrong[0]} is {tuple(wanted[wrong[0]].shape)} there but {tuple(own[wrong[0]].shape)} here" if wrong
                else f"{'missing' if missing else 'unexpected'} weight {(missing or extra)[0]}")
        raise TagformerError(f"--init-from {run_dir}: its encoder does not match this run's model ({what}); the "
                             f"pretraining run used model {raw.get('model')}")
    with torch.no_grad():
        for key, value in wanted.items():
            own[key].copy_(value.to(own[key].dtype))
    method = str((raw.get("pretrain") or {}).get("method", ""))
    saved_over.pop("name", None)
    return Pretrained(run_dir=run_dir, method=method, model=name, preset=preset, overrides=saved_over,
                      keys=len(wanted))


def pretrained_normaliser(run_dir: str | Path) -> dict[str, Any]:
    """The pretraining run's ``normaliser.json`` state. A fine-tuning run should use it as its own (pass it as
    the data module's ``normaliser_state``) so that its ``normaliser.json``, its data and the input
    normalisation :func:`load_pretrained_encoder` copies in all agree."""
    from tagformer.rundir import RunDir, read_json

    _read_run(Path(run_dir))
    return read_json(RunDir(run_dir).normaliser, "feature normalisation")


def freeze_encoder(tagger: Tagger) -> int:
    """Freeze the encoder for a linear probe: ``requires_grad=False`` on every encoder parameter (the input
    normalisation has buffers only; the heads stay trainable). Returns the number of frozen parameter values.
    Keeping the frozen encoder's dropout and batch-norm in eval mode is :func:`encoder_eval`."""
    count = 0
    for p in tagger.encoder.parameters():
        p.requires_grad_(False)
        count += p.numel()
    return count


def encoder_eval(tagger: Tagger) -> None:
    """Put the encoder (only) in eval mode: a frozen encoder's dropout off and batch-norm statistics fixed.
    Call it after each ``tagger.train()`` (e.g. at every training epoch start) when probing."""
    tagger.encoder.eval()


class FrozenEncoderEval(L.Callback):
    """Keep a frozen encoder in eval mode (dropout off, batch-norm statistics fixed) at every training epoch
    start, after Lightning has put the whole model in training mode."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        encoder_eval(pl_module.model)  # type: ignore[arg-type]
