"""Misuse fails at construction or at the first step, with the argument named."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import gandiag
from gandiag.detectors.base import Detector
from gandiag.monitor import Cadence
from gandiag.store import RunReader


def _gan(tmp_path, **kw):
    kw.setdefault("detectors", None)
    return gandiag.Monitor(
        tmp_path / "run", generator=nn.Linear(2, 2), discriminator=nn.Linear(2, 1), **kw
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"generator": nn.Linear(2, 2)}, "generator= and discriminator="),
        (
            {
                "generator": nn.Linear(2, 2),
                "discriminator": nn.Linear(2, 1),
                "model": nn.Linear(2, 2),
            },
            "not both",
        ),
        ({"generator": {"G/1": nn.Linear(2, 2)}, "discriminator": nn.Linear(2, 1)}, "without '/'"),
        (
            {"generator": {"X": nn.Linear(2, 2)}, "discriminator": {"X": nn.Linear(2, 1)}},
            "share the name",
        ),
        (
            {"generator": nn.Linear(2, 2), "discriminator": nn.Linear(2, 1), "loss": "wgan"},
            "bce, wasserstein, hinge, lsgan",
        ),
        (
            {
                "generator": {"A": nn.Linear(2, 2), "B": nn.Linear(2, 2)},
                "discriminator": nn.Linear(2, 1),
                "latent_dim": 2,
            },
            "generate=",
        ),
        ({"generator": nn.ReLU(), "discriminator": nn.Linear(2, 1)}, "no trainable parameters"),
        (
            {"generator": nn.Linear(2, 2), "discriminator": nn.Linear(2, 1), "detectors": "all"},
            "'default', None or a list",
        ),
    ],
)
def test_bad_construction(tmp_path, kwargs, match):
    kwargs.setdefault("detectors", None)
    with pytest.raises((ValueError, TypeError), match=match):
        gandiag.Monitor(tmp_path / "run", **kwargs)


def test_cadence_is_validated():
    with pytest.raises(ValueError, match="Cadence.flush"):
        Cadence(flush=0)
    with pytest.raises(ValueError, match="Cadence.grid"):
        Cadence(grid=-1)


def test_existing_run_needs_resume(tmp_path):
    _gan(tmp_path, cadence=Cadence(samples=0)).close()
    with pytest.raises(FileExistsError, match="resume=True"):
        _gan(tmp_path)


Z = torch.zeros(4)
X = torch.zeros(4, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d_real": Z, "real": X, "fake": X}, "missing `d_fake`"),
        ({"d_fake": Z, "real": X, "fake": X}, "missing `d_real`"),
        ({"d_real": Z, "d_fake": Z, "fake": X}, "missing `real`"),
        (
            {"d_real": Z, "d_fake": Z, "real": X, "fake": torch.zeros(4, 3)},
            "`fake` has per-sample shape",
        ),
        ({"d_real": Z, "d_fake": Z, "real": X[:1], "fake": X[:1]}, "`real` has batch size 1"),
        (
            {"d_real": torch.zeros(4, dtype=torch.long), "d_fake": Z, "real": X, "fake": X},
            "`d_real` has dtype",
        ),
        (
            {"d_real": Z, "d_fake": Z, "real": X, "fake": X, "losses": {"G": torch.zeros(3)}},
            r"losses\['G'\] has shape",
        ),
        ({"d_real": Z, "d_fake": Z, "real": X, "fake": X, "losses": {}}, "non-empty dict"),
        (
            {"d_real": Z, "d_fake": Z, "real": X, "fake": X, "losses": {"G": "x"}},
            "tensor or a number",
        ),
    ],
)
def test_bad_first_step_names_the_argument(tmp_path, kwargs, match):
    mon = _gan(tmp_path)
    losses = kwargs.pop("losses", {"G": 1.0})
    with pytest.raises((ValueError, TypeError), match=match):
        mon.step(0, losses=losses, **kwargs)
    mon.close()


def test_later_step_missing_a_signal_and_steps_must_increase(tmp_path):
    mon = _gan(tmp_path)
    mon.step(0, losses={"G": 1.0}, d_real=Z, d_fake=Z, real=X, fake=X)
    with pytest.raises(ValueError, match="missing `real`"):
        mon.step(1, losses={"G": 1.0}, d_real=Z, d_fake=Z, fake=X)
    with pytest.raises(ValueError, match="does not come after"):
        mon.step(0, losses={"G": 1.0}, d_real=Z, d_fake=Z, real=X, fake=X)
    mon.close()
    with pytest.raises(RuntimeError, match="closed"):
        mon.step(5, losses={"G": 1.0}, d_real=Z, d_fake=Z, real=X, fake=X)


def test_vae_checks(tmp_path):
    mon = gandiag.Monitor(
        tmp_path / "run", model=nn.Linear(4, 4), detectors=None, generate=lambda z: z
    )
    mu = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="missing `logvar`"):
        mon.step(0, losses={"loss": 1.0}, mu=mu, inputs=torch.zeros(4, 3), recon=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="`recon` has shape"):
        mon.step(
            0,
            losses={"loss": 1.0},
            mu=mu,
            logvar=mu,
            inputs=torch.zeros(4, 3),
            recon=torch.zeros(4, 5),
        )
    mon.close()


class _Broken(Detector):
    name = "broken"

    def update(self, record):
        raise RuntimeError("detector bug")

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_failing_background_thread_warns_once_and_training_continues(tmp_path):
    mon = _gan(tmp_path, detectors=[_Broken()], cadence=Cadence(samples=0, flush=1))
    handler = _Collect()
    logging.getLogger("gandiag").addHandler(handler)
    try:
        for step in range(20):
            mon.step(step, losses={"G": 1.0}, d_real=Z, d_fake=Z)
            mon._worker.drain()
        mon.close()
    finally:
        logging.getLogger("gandiag").removeHandler(handler)
    messages = [r.getMessage() for r in handler.records if r.levelno == logging.WARNING]
    assert len(messages) == 1 and "detector bug" in messages[0]


def test_alerts_go_through_logging_unless_quiet_or_on_alert(tmp_path):
    from monitor_toy import ThresholdDetector

    def run(name, **kw):
        handler = _Collect()
        logging.getLogger("gandiag").addHandler(handler)
        try:
            mon = _gan(
                tmp_path / name,
                detectors=[ThresholdDetector("loss/G", 0.5)],
                cadence=Cadence(samples=0, flush=1),
                **kw,
            )
            alerts = []
            for step in range(4):
                alerts += mon.step(step, losses={"G": 1.0}, d_real=Z, d_fake=Z)
            alerts += mon.close()
        finally:
            logging.getLogger("gandiag").removeHandler(handler)
        return alerts, [r for r in handler.records if r.name == "gandiag.alerts"]

    alerts, logged = run("default")
    assert alerts and [r.getMessage() for r in logged] == [a.one_line() for a in alerts]
    assert run("quiet", quiet=True)[1] == []
    seen = []
    alerts, logged = run("callback", on_alert=seen.append)
    assert logged == [] and seen == alerts


def test_context_manager_marks_a_crash(tmp_path):
    with pytest.raises(KeyError), _gan(tmp_path, cadence=Cadence(samples=0)) as mon:
        mon.step(0, losses={"G": 1.0}, d_real=Z, d_fake=Z)
        raise KeyError("boom")
    info = RunReader(tmp_path / "run").info()
    assert info.status == "crashed" and info.num_steps == 1
