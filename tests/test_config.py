"""Typed config: unknown keys and wrong types name the key and the file."""

from pathlib import Path

import pytest

from churnseg.config import (
    ConfigError,
    DataConfig,
    ScoreConfig,
    SegmentRules,
    SimulateConfig,
    TrainConfig,
    load_config,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name,model", [
    ("data.yaml", DataConfig), ("simulate.yaml", SimulateConfig), ("train.yaml", TrainConfig),
    ("score.yaml", ScoreConfig), ("segments.yaml", SegmentRules),
])
def test_shipped_configs_load(name, model):
    assert isinstance(load_config(CONFIGS / name, model), model)


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "simulate.yaml"
    path.write_text("accounts: 10\ncrisis:\n  regoin: EU\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, SimulateConfig)
    assert "crisis.regoin" in str(err.value) and str(path) in str(err.value)


def test_wrong_type_names_key(tmp_path):
    path = tmp_path / "simulate.yaml"
    path.write_text("accounts: many\n")
    with pytest.raises(ConfigError, match="accounts"):
        load_config(path, SimulateConfig)


def test_overrides_apply_after_file(tmp_path):
    path = tmp_path / "simulate.yaml"
    path.write_text("accounts: 10\nseed: 3\n")
    cfg = load_config(path, SimulateConfig, {"seed": 5, "crisis.enabled": False})
    assert (cfg.accounts, cfg.seed, cfg.crisis.enabled) == (10, 5, False)


def test_unknown_table_in_data_config(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("tables:\n  clicks: {path: x}\n")
    with pytest.raises(ConfigError, match="clicks"):
        load_config(path, DataConfig)


def test_missing_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", DataConfig)
