"""The throughput work keeps the maths: the harness trains as a plain loop does, a compiled step equals the
eager one, and a batch schedule sets the batch size per epoch (also across a resume)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from tinydata import TINY_OVERRIDES

from tagformer.config import build_config
from tagformer.data.datamodule import JetDataModule
from tagformer.models import create_model
from tagformer.tasks import ClassificationTask
from tagformer.train.compile import compile_fn, resolve_compile
from tagformer.train.module import EpochSums, TaggerModule
from tagformer.train.run import build_tagger, train


def _aot_eager(fn):
    """torch.compile through dynamo and AOT autograd without code generation: seconds, not minutes."""
    return compile_fn(fn, backend="aot_eager")


def _batch(n: int = 16, particles: int = 8):
    from tagformer.bench.inputs import synthetic_jets
    from tagformer.data.batch import JetBatch

    jets = synthetic_jets(n, particles, 3, seed=3)
    labels = torch.arange(n) % 5
    return JetBatch(features=jets.features, p4=jets.p4, mask=jets.mask, labels=labels)


def _module(name: str, compile_step: bool = False) -> TaggerModule:
    from tagformer.config import OptimConfig, ScheduleConfig

    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_features=3, num_particles=8)
    return TaggerModule(model, [ClassificationTask(5)], OptimConfig(), ScheduleConfig(), compile_step=compile_step)


def _loss_and_grads(module: TaggerModule, fn) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    module.zero_grad(set_to_none=True)
    loss, _ = fn(_batch())
    loss.backward()
    return loss.detach(), {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", ["deepsets_tiny", "transformer_tiny", "phat_small"])
def test_compiled_step_equals_eager(name: str):
    module = _module(name)
    loss, grads = _loss_and_grads(module, module._step)
    closs, cgrads = _loss_and_grads(module, _aot_eager(module._step))
    torch.testing.assert_close(closs, loss, rtol=1e-5, atol=1e-6)
    assert cgrads.keys() == grads.keys() and grads
    for key in grads:
        torch.testing.assert_close(cgrads[key], grads[key], rtol=1e-4, atol=1e-6)


def test_phat_training_step_compiles_into_one_graph():
    """Under torch.compile the grid message passing takes the static all-pairs path: no grid size read from
    the data (``.item()``), no ``torch.cond``, so the whole loss step is one graph (CUDA-graph-able)."""
    module = _module("phat_small")
    explained = torch._dynamo.explain(module._step)(_batch())
    assert explained.graph_break_count == 0 and explained.graph_count == 1


@pytest.mark.slow
def test_inductor_compiled_step_equals_eager():
    module = _module("transformer_tiny")
    loss, grads = _loss_and_grads(module, module._step)
    closs, cgrads = _loss_and_grads(module, compile_fn(module._step))
    torch.testing.assert_close(closs, loss, rtol=1e-4, atol=1e-5)
    for key in grads:
        torch.testing.assert_close(cgrads[key], grads[key], rtol=1e-3, atol=1e-5)


def test_auto_compiles_on_cuda_only():
    assert resolve_compile("auto", "cuda") and resolve_compile("auto", "gpu")
    assert not resolve_compile("auto", "cpu") and not resolve_compile("auto", "mps")
    assert resolve_compile(True, "cpu") and not resolve_compile(False, "cuda")


def test_epoch_sums_match_python_sums():
    sums = EpochSums()
    values = [(0.5, 0.25, 32), (1.5, 0.75, 16), (2.0, 1.0, 8)]
    for loss, acc, n in values:
        sums.add({"loss": torch.tensor(loss), "acc": torch.tensor(acc)}, n)
    total = sum(n for *_, n in values)
    assert sums.means() == pytest.approx({"loss": sum(a * n for a, _, n in values) / total,
                                          "acc": sum(b * n for _, b, n in values) / total}, rel=1e-12)
    restored = EpochSums()
    restored.load_state_dict(sums.state_dict())
    restored.add({"loss": torch.tensor(1.0), "acc": torch.tensor(0.0)}, 8)
    assert restored.count == total + 8
    assert restored.means()["loss"] == pytest.approx((sums.means()["loss"] * total + 8.0) / (total + 8))


def _bare_loop_weights(cfg, steps: int) -> dict[str, torch.Tensor]:
    """What the harness should produce: the same model, batches, optimiser, clipping and LR schedule in a
    plain loop."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = JetDataModule(cfg.data)
    dm.setup("fit")
    module = TaggerModule(build_tagger(cfg, dm.info, dm.normaliser_state()), [ClassificationTask(5)], cfg.optim,
                          cfg.schedule)
    opt_cfg = module.configure_optimizers()  # no trainer: a schedule of one step; rebuilt below with the length
    opt = opt_cfg["optimizer"]
    from tagformer.train.module import lr_factor

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, cfg.schedule))
    for i, batch in enumerate(dm.train_dataloader()):
        if i == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss, _ = module._step(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.trainer.grad_clip)
        opt.step()
        sched.step()
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_harness_weights_equal_a_plain_loop(tiny_h5: Path, tmp_path: Path):
    cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                       overrides=[*TINY_OVERRIDES, "trainer.max_epochs=1", "trainer.limit_train_batches=3"])
    train(cfg, tmp_path / "run")
    harness = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3
    cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                       overrides=[*TINY_OVERRIDES, "trainer.max_epochs=1", "trainer.limit_train_batches=3"])
    bare = _bare_loop_weights(cfg, 3)
    assert harness.keys() == bare.keys()
    for key in bare:
        torch.testing.assert_close(harness[key], bare[key], rtol=1e-6, atol=1e-7, msg=key)


def test_compiled_run_keeps_plain_weight_names_and_reports_warmup(tiny_h5: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr("tagformer.train.module.compile_fn", _aot_eager)
    said: list[str] = []  # the log line, whatever logging configuration earlier tests left behind
    monkeypatch.setattr("tagformer.train.module.rank_zero_info", lambda msg, *a, **k: said.append(str(msg)))
    overrides = [*TINY_OVERRIDES, "trainer.max_epochs=2"]
    eager = train(build_config(model="transformer_tiny", data=str(tiny_h5), overrides=overrides), tmp_path / "eager")
    summary = train(build_config(model="transformer_tiny", data=str(tiny_h5),
                                 overrides=[*overrides, "trainer.compile=true"]), tmp_path / "compiled")
    assert summary["compile"] is True and summary["compile_warmup_s"] > 0 and eager["compile"] is False
    assert any("[compile] batch shape (32, 16, 3): first training step took" in m for m in said)
    for name in ("best.pt",):
        a = torch.load(tmp_path / "eager" / "checkpoints" / name, weights_only=True)["state_dict"]
        b = torch.load(tmp_path / "compiled" / "checkpoints" / name, weights_only=True)["state_dict"]
        assert a.keys() == b.keys() and not any("_orig_mod" in k for k in b)
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=1e-3, atol=1e-5)


def test_a_model_that_does_not_compile_trains_eagerly(tiny_h5: Path, tmp_path: Path, monkeypatch):
    def failing(fn):
        def call(batch):
            raise torch._dynamo.exc.Unsupported("not this model")
        return call

    monkeypatch.setattr("tagformer.train.module.compile_fn", failing)
    overrides = [*TINY_OVERRIDES, "trainer.max_epochs=1"]
    eager = train(build_config(model="transformer_tiny", data=str(tiny_h5), overrides=overrides), tmp_path / "eager")
    with pytest.warns(Warning, match="torch.compile failed for this model"):
        fell_back = train(build_config(model="transformer_tiny", data=str(tiny_h5),
                                       overrides=[*overrides, "trainer.compile=true"]), tmp_path / "compiled")
    assert fell_back["best_score"] == pytest.approx(eager["best_score"], rel=1e-6)


class _BatchSizes(L.Callback):
    def __init__(self) -> None:
        self.sizes: dict[int, list[int]] = {}
        self.total_steps = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.sizes.setdefault(int(trainer.current_epoch), []).append(len(batch))
        self.total_steps = pl_module.total_steps()


SCHEDULE = [*TINY_OVERRIDES, "trainer.max_epochs=3", "trainer.patience=10", "model.dropout=0.1",
            "trainer.batch_schedule={1: 64, 2: 128}"]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as fh:
        return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in csv.DictReader(fh)]


def test_batch_schedule_sets_the_batch_size_per_epoch_and_resumes(tiny_h5: Path, tmp_path: Path, monkeypatch):
    seen = _BatchSizes()
    summary = train(build_config(model="transformer_tiny", data=str(tiny_h5), overrides=SCHEDULE), tmp_path / "whole",
                    extra_callbacks=[seen])
    train_jets = sum(seen.sizes[0])
    assert seen.sizes[0][0] == 32 and seen.sizes[1][0] == 64 and seen.sizes[2][0] == 128
    assert all(sum(sizes) == train_jets for sizes in seen.sizes.values())
    steps = [len(seen.sizes[e]) for e in range(3)]
    assert seen.total_steps == sum(steps)
    assert [int(r["step"]) for r in _rows(tmp_path / "whole")] == [steps[0], steps[0] + steps[1], sum(steps)]
    assert summary["batch_schedule"] == {1: 64, 2: 128}

    # killed at the start of epoch 2 (the end-of-epoch-1 checkpoint on disk), then resumed
    real = TaggerModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.current_epoch == 2 and batch_idx == 0:
            raise KeyboardInterrupt
        return real(self, batch, batch_idx)

    monkeypatch.setattr(TaggerModule, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(build_config(model="transformer_tiny", data=str(tiny_h5), overrides=SCHEDULE), tmp_path / "resumed")
    monkeypatch.setattr(TaggerModule, "training_step", real)
    after = _BatchSizes()
    train(None, tmp_path / "resumed", resume=True, extra_callbacks=[after])
    assert after.sizes[2] == seen.sizes[2] and after.total_steps == seen.total_steps
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert _rows(tmp_path / "whole") == _rows(tmp_path / "resumed")
    assert json.loads((tmp_path / "resumed" / "summary.json").read_text())["epochs_completed"] == 3


def test_batch_schedule_refuses_streaming(tiny_h5: Path, tmp_path: Path):
    from tagformer.errors import ConfigError

    cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                       overrides=[*SCHEDULE, "data.streaming=true", "data.shuffle_buffer=50"])
    with pytest.raises(ConfigError, match="batch_schedule needs in-memory data"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "config.yaml").exists()
