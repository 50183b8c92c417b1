"""``tagformer models`` and the registry's user errors."""

from __future__ import annotations

import pytest

from tagformer.cli.main import main
from tagformer.errors import ModelError
from tagformer.models import create_model


def test_lists_presets_with_parameter_counts(capsys):
    assert main(["models", "--pattern", "salt*"]) == 0
    out = capsys.readouterr().out
    assert "salt_large" in out and "3,264" in out  # salt at 3 features, 5 classes, N = 150


def test_show_preset_with_override(capsys):
    assert main(["models", "--show", "transformer_tiny", "--set", "num_layers=1"]) == 0
    assert "num_layers = 1" in capsys.readouterr().out


def test_set_reads_values_like_train_overrides(capsys):
    """``--set`` parses values with the same parser as ``tagformer train model.KEY=VALUE``: 1e-1 is a number."""
    from tagformer.config import parse_overrides

    assert main(["models", "--show", "transformer_tiny", "--set", "dropout=1e-1", "--set", "pooling=mean"]) == 0
    out = capsys.readouterr().out
    assert "dropout = 0.1\n" in out and "pooling = 'mean'" in out
    assert parse_overrides(["model.dropout=1e-1"])["model"]["dropout"] == 0.1


@pytest.mark.parametrize("argv", [["models", "--pattern", "no_such*"], ["models", "--show", "nope"],
                                  ["models", "--show", "salt", "--set", "bogus=1"],
                                  ["models", "--show", "salt", "--set", "dim"],
                                  ["models", "--show", "salt", "--set", "model.dim=3"]])
def test_user_errors_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_unknown_model_lists_available():
    with pytest.raises(ModelError, match=r"models: .*transformer"):
        create_model("no_such_model", num_classes=2, in_features=3)


def test_unknown_override_lists_arguments():
    with pytest.raises(ModelError, match=r"available: .*num_heads"):
        create_model("transformer_tiny", num_classes=2, in_features=3, no_such_arg=1)
