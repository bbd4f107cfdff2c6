"""Advice worded for its reader: a Monitor user is told the Python argument, a user of the
reference trainer the config key (or that the trainer already does it)."""

import pytest

from gandiag.advice import (
    ENTRY_MONITOR,
    ENTRY_TRAINER,
    Advice,
    advise_alert,
    entry_point_of,
    render_advice,
)
from gandiag.detectors import DETECTORS
from gandiag.detectors.remedies import MODE_COLLAPSE, R1
from gandiag.detectors.support import SignalDetector
from gandiag.figures import read_alerts_for_display, summarize_run
from gandiag.store import RunReader, RunWriter
from gandiag.types import Alert, Severity, StepRecord


def _signal_detectors():
    return [DETECTORS[n] for n in DETECTORS if issubclass(DETECTORS[n], SignalDetector)]


@pytest.mark.parametrize("cls", _signal_detectors(), ids=lambda c: c.name)
def test_every_missing_signal_hint_has_a_trainer_form(cls):
    for hint in cls.provided_by_groups:
        assert isinstance(hint, Advice), (cls.name, hint)
        assert hint.trainer != hint.monitor
        assert "Monitor" not in hint.trainer and "mon." not in hint.trainer, hint.trainer


def test_missing_held_out_batch_reads_as_a_config_key_for_trainer_runs():
    detector = DETECTORS["d_overfitting"](missing_grace_steps=10)
    alerts = [a for s in range(12) for a in detector.update(StepRecord(s, {"loss/G": 1.0}))]
    (info,) = alerts
    assert info.severity is Severity.INFO and "d_val=" in info.diagnosis  # stored form
    trainer = advise_alert(info, ENTRY_TRAINER)
    assert "data.val_size" in trainer.diagnosis and "d_val=" not in trainer.diagnosis
    assert trainer.diagnosis.startswith("d_overfitting is inactive")
    assert advise_alert(info, ENTRY_MONITOR) == info


def test_remedies_gain_their_config_key_only_for_trainer_runs():
    assert "gan.r1" in render_advice(R1, ENTRY_TRAINER)
    once = render_advice(R1, ENTRY_TRAINER)
    assert render_advice(once, ENTRY_TRAINER) == once  # idempotent
    assert render_advice(R1, ENTRY_MONITOR) == R1
    alert = Alert("mode_collapse", Severity.WARNING, 5, 3, "collapsed", {}, MODE_COLLAPSE)
    worded = advise_alert(alert, ENTRY_TRAINER).remedies
    assert len(worded) == len(MODE_COLLAPSE) and any("gan.unrolled_steps" in r for r in worded)
    assert render_advice("text no advice declares", ENTRY_TRAINER) == "text no advice declares"


def test_one_monitor_form_has_one_trainer_form():
    Advice("an illustrative hint for the test", "its trainer form")
    Advice("an illustrative hint for the test", "its trainer form")  # the same: fine
    with pytest.raises(ValueError, match="already declared"):
        Advice("an illustrative hint for the test", "another trainer form")


def test_entry_point_comes_from_the_run_metadata():
    assert entry_point_of({"entry_point": "trainer"}) == ENTRY_TRAINER
    assert entry_point_of({"entry_point": "monitor", "config": {"resolved": {}}}) == ENTRY_MONITOR
    # runs written before the entry point was recorded: the trainer's config has "resolved"
    assert entry_point_of({"config": {"resolved": {"loss": "hinge"}}}) == ENTRY_TRAINER
    assert entry_point_of({"config": {"lr": 1e-3}}) == ENTRY_MONITOR
    assert entry_point_of(None) == ENTRY_MONITOR


@pytest.mark.parametrize(
    "entry, shown, hidden",
    [("trainer", "data.val_size", "d_val="), ("monitor", "d_val=", "data.val_size")],
)
def test_dashboard_and_report_read_alerts_worded_for_the_run(tmp_path, entry, shown, hidden):
    detector = DETECTORS["d_overfitting"](missing_grace_steps=10)
    alerts = [a for s in range(12) for a in detector.update(StepRecord(s, {"loss/G": 1.0}))]
    with RunWriter(tmp_path / "run", name="r", kind="gan") as writer:
        writer.set_meta(entry_point=entry)
        writer.write_steps([StepRecord(s, {"loss/G": 1.0}) for s in range(12)])
        writer.write_alerts(alerts)
    with RunReader(tmp_path / "run") as reader:
        (alert,) = read_alerts_for_display(reader)
        group = summarize_run(reader).groups[0]
    assert shown in alert.diagnosis and hidden not in alert.diagnosis
    assert group.latest.diagnosis == alert.diagnosis


def test_a_fresh_reader_knows_the_built_in_advice():
    """A report or dashboard process may never import the detectors that declare advice."""
    import subprocess
    import sys

    code = (
        "from gandiag.advice import render_advice; "
        "print(render_advice('x; pass d_val= (D outputs on a held-out real batch) to "
        "Monitor.step to enable r_v', 'trainer'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "data.val_size" in out.stdout
