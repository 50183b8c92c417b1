"""Search spaces: parsing, and every invalid space refused with one clear message before any training."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_helpers import write_space

from tagformer.cli.main import main
from tagformer.errors import ConfigError, TagformerError
from tagformer.search import load_space, run_search
from tagformer.search.candidate import sample
from tagformer.search.params import parse_param
from tagformer.search.space import packaged_spaces

optuna = pytest.importorskip("optuna", minversion="5.0")  # the search extra


def test_packaged_default_space_loads_with_four_families() -> None:
    assert "default" in packaged_spaces()
    space = load_space("default")
    assert {f.name for f in space.families} >= {"phat", "salt", "transformer", "deepsets"}
    assert space.objectives == ("val_acc", "flops")
    assert space.references == ("phat_small", "salt", "transformer_tiny", "deepsets_tiny")
    assert load_space("configs/search/default.yaml") == space  # the source-tree path names it too


def test_param_forms() -> None:
    assert parse_param("dim", [8, 16], "x").kind == "choice"
    ints = parse_param("depth", {"low": 1, "high": 3}, "x")
    assert (ints.kind, ints.low, ints.high) == ("int", 1, 3)
    floats = parse_param("optim.lr", {"low": 1e-4, "high": 1e-2, "log": True}, "x")
    assert floats.kind == "float" and floats.log
    assert parse_param("pool", "max", "x").kind == "fixed"
    lists = parse_param("phi_dims", [[8, 8], [16]], "x")
    assert lists.encoded and lists.decode(lists.distribution().choices[1]) == [16]


def test_sampled_candidate_uses_only_its_family_and_builds_a_config(tmp_path: Path, tiny_h5: Path) -> None:
    space = load_space(write_space(tmp_path / "s.yaml", params={"data.num_particles": [8, 16]}))
    study = optuna.create_study(directions=space.directions)
    seen = set()
    for _ in range(8):
        trial = study.ask()
        cand = sample(space, trial)
        seen.add(cand.family)
        # the whole genome is drawn, only the chosen family's genes are active
        assert {"transformer.dim", "deepsets.phi_dims", "data.num_particles"} <= set(trial.params)
        other = "deepsets" if cand.family == "transformer" else "transformer"
        assert not set(cand.model_args) & {k.split(".", 1)[1] for k in trial.params if k.startswith(other)}
        cfg = cand.config(str(tiny_h5), space.run)
        assert cfg.model.overrides == dict(cand.model_args)
        assert cfg.data.num_particles == cand.run_args["data.num_particles"]
        assert cfg.trainer.max_epochs == 2
        study.tell(trial, [0.5, 1.0])
    assert seen == {"transformer", "deepsets"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"families": {"nosuchnet": {"params": {"dim": [8]}}}}, "unknown family 'nosuchnet'"),
        ({"families": {"t": {"model": "transformer_tiny", "params": {"dim": {"low": 16, "high": 8}}}}},
         "empty range: low 16 > high 8"),
        ({"families": {"t": {"model": "transformer_tiny", "params": {"dim": []}}}}, "empty list of choices"),
        ({"families": {"d": {"model": "deepsets_tiny", "params": {"num_heads": [2, 4]}}}},
         "model 'deepsets' takes no argument 'num_heads'"),
        ({"families": {"t": {"model": "transformer_tiny", "params": {"in_features": [3]}}}},
         "takes no argument 'in_features'"),
        ({"objectives": ["val_acc", "bops"]}, "unknown objective 'bops'"),
        ({"constraints": ["latency < fast"]}, "unknown metric 'latency'"),
        ({"constraints": ["flops about 3"]}, "must look like 'METRIC <= NUMBER'"),
        ({"references": ["nosuchpreset"]}, "unknown reference 'nosuchpreset'"),
        ({"params": {"trainer.max_epochz": [1, 2]}}, "unknown config key 'trainer.max_epochz'"),
        ({"params": {"optim.lr": {"low": -1.0, "high": 1.0}}}, "bad config value for 'optim.lr'"),
        ({"params": {"dim": [8]}}, "is not a run-config key"),
        ({"run": {"model": {"name": "salt"}}}, "models belong to the families"),
        ({"budget": 3}, "unknown key(s) 'budget'"),
    ],
)
def test_invalid_space_is_refused_before_any_training(tmp_path: Path, tiny_h5: Path, changes: dict,
                                                      message: str) -> None:
    path = write_space(tmp_path / "bad.yaml", **changes)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as err:
        run_search(path, tiny_h5, trials=2, out_dir=out, log=lambda s: None)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert not (out / "trials").exists() and not (out / "references").exists()


def test_cli_refuses_an_invalid_space_with_one_line(tmp_path: Path, tiny_h5: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write_space(tmp_path / "bad.yaml", families={"t": {"model": "transformer_tiny",
                                                              "params": {"dim": {"low": 4, "high": 2}}}})
    out = tmp_path / "out"
    code = main(["search", "--space", str(path), "--data", str(tiny_h5), "--trials", "3", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and "empty range" in err[0]
    assert not out.exists()


def test_missing_data_and_unknown_space_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TagformerError, match="neither a file nor a packaged space"):
        load_space("no_such_space")
    with pytest.raises(TagformerError) as err:
        run_search(write_space(tmp_path / "s.yaml"), tmp_path / "missing.h5", trials=1, out_dir=tmp_path / "o")
    assert "missing.h5" in str(err.value)
    assert not (tmp_path / "o").exists()


def test_resuming_with_another_space_is_refused(tmp_path: Path, tiny_h5: Path) -> None:
    from tagformer.search.study import make_storage, open_study

    storage = make_storage(f"sqlite:///{tmp_path / 'study.db'}")
    space = load_space(write_space(tmp_path / "a.yaml"))
    open_study(space, storage, "tiny", str(tiny_h5))
    changed = load_space(write_space(tmp_path / "b.yaml", objectives=["val_acc", "params"]))
    with pytest.raises(TagformerError, match="different search space"):
        open_study(changed, storage, "tiny", str(tiny_h5))


def test_a_trial_directory_of_another_configuration_is_refused(tmp_path: Path, tiny_h5: Path) -> None:
    """A replaced study database must not make trial numbers read other candidates' runs."""
    from tagformer.config import build_config, save_config
    from tagformer.rundir import RunDir
    from tagformer.search.trial import trial_dir

    out = tmp_path / "out"
    stale = RunDir(trial_dir(out, 0))
    stale.checkpoints.mkdir(parents=True)
    save_config(build_config(model="salt", data=str(tiny_h5)), stale.config)
    with pytest.raises(TagformerError, match="holds a run of another configuration"):
        run_search(write_space(tmp_path / "s.yaml"), tiny_h5, trials=1, out_dir=out, log=lambda s: None)
    assert stale.is_run() and not any(stale.checkpoints.iterdir()) and not stale.metrics_csv.exists()
