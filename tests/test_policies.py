"""Alert policies: pure decisions on alerts (torch-free)."""

import pytest

from gandiag.policies import (
    Action,
    AlertPolicy,
    StopTraining,
    checkpoint_on_warning,
    stop_on_critical,
)
from gandiag.types import Alert, Severity


def _alert(severity, onset=10, step=20, name="mode_collapse"):
    return Alert(name, severity, step, onset, "diagnosis", {"x": 1.0}, ("remedy",))


def test_strongest_action_wins_and_info_never_acts():
    policy = AlertPolicy(on_warning="checkpoint", on_critical="rollback")
    assert policy.decide([_alert(Severity.INFO)]).action is Action.NONE
    assert policy.decide([_alert(Severity.WARNING)]).action is Action.CHECKPOINT
    d = policy.decide([_alert(Severity.WARNING), _alert(Severity.CRITICAL, onset=5)])
    assert d.action is Action.ROLLBACK and d.alert.onset_step == 5


def test_ties_take_the_earliest_onset():
    policy = AlertPolicy(on_critical="rollback")
    d = policy.decide([_alert(Severity.CRITICAL, onset=30), _alert(Severity.CRITICAL, onset=12)])
    assert d.alert.onset_step == 12


def test_rollbacks_run_out_into_the_fallback():
    policy = AlertPolicy(on_critical="rollback", max_rollbacks=1)
    assert policy.decide([_alert(Severity.CRITICAL)], rollbacks_done=0).action is Action.ROLLBACK
    d = policy.decide([_alert(Severity.CRITICAL)], rollbacks_done=1)
    assert d.action is Action.STOP and "max_rollbacks" in d.reason


def test_bad_settings_name_the_choices():
    with pytest.raises(ValueError, match="none, checkpoint, rollback, stop"):
        AlertPolicy(on_warning="restart")
    with pytest.raises(ValueError, match="fallback cannot be rollback"):
        AlertPolicy(fallback="rollback")


def test_monitor_callbacks():
    saved = []
    on_alert = stop_on_critical(also=checkpoint_on_warning(saved.append))
    on_alert(_alert(Severity.WARNING))
    assert len(saved) == 1
    with pytest.raises(StopTraining) as info:
        on_alert(_alert(Severity.CRITICAL))
    assert info.value.alert.severity is Severity.CRITICAL and len(saved) == 2
