from pathlib import Path

import pytest

from gandiag.data import DATASETS
from gandiag.reference_models import MODELS
from gandiag.train import TrainConfig, load_config

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.toml"))


def test_defaults_exist_for_every_option():
    cfg = load_config({})
    assert cfg == TrainConfig()
    assert cfg.model.name in MODELS and cfg.data.name in DATASETS


def test_unknown_keys_name_the_nearest_valid_key():
    with pytest.raises(
        ValueError, match=r"unknown config key 'optim.lr_gg'; did you mean 'optim.lr_g'"
    ):
        load_config({"optim": {"lr_gg": 1e-3}})
    with pytest.raises(ValueError, match=r"unknown config key 'stpes'; did you mean 'steps'"):
        load_config({"stpes": 3})


def test_types_are_checked_and_ints_become_floats():
    with pytest.raises(ValueError, match=r"'gan.d_steps' must be int"):
        load_config({"gan": {"d_steps": "five"}})
    with pytest.raises(ValueError, match=r"'model' must be a table"):
        load_config({"model": "dcgan"})
    cfg = load_config({"optim": {"lr_d": 1}})
    assert isinstance(cfg.optim.lr_d, float)


def test_toml_errors_name_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[gan]\nlos = "hinge"\n')
    with pytest.raises(
        ValueError, match=r"c.toml: unknown config key 'gan.los'; did you mean 'gan.loss'"
    ):
        load_config(path)
    path.write_text("steps = \n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")


def test_every_model_has_an_example_config():
    assert CONFIGS
    named = set()
    for path in CONFIGS:
        cfg = load_config(path)
        assert cfg.model.name in MODELS, path
        assert cfg.data.name in DATASETS, path
        named.add(cfg.model.name)
    assert named == set(MODELS)
