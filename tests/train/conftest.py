import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine has two cores shared with other test processes.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _tiny_config(**overrides):
    """A few-step config on small data, quick enough for the default test run."""
    cfg = {
        "steps": 6,
        "model": {"name": "mlp_gan"},
        "data": {"name": "ring8", "options": {"n": 512}, "batch_size": 64},
        "eval": {"every": 3, "num_samples": 200, "metrics": []},
        "checkpoint": {"every": 3},
        "monitor": {"cadence": {"flush": 2, "samples": 2, "layers": 2, "grid": 3}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


@pytest.fixture
def tiny_config():
    return _tiny_config
