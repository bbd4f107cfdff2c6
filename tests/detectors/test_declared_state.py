"""Declared detector state: reset, JSON round trip, validation, and reading older saves.

The resume-equals-uninterrupted round trip of every registered detector is
``test_state_and_config.test_resume_equals_uninterrupted``; these tests cover the
declaration itself.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from detector_streams import gan_stream
from test_state_and_config import stream_for

from gandiag import signals as S
from gandiag.detectors import DETECTORS, get_detector_class, run_detectors
from gandiag.detectors._stats import Streak
from gandiag.detectors.support import SignalDetector
from gandiag.state import (
    DeclaredState,
    StateError,
    check_value,
    dump_state,
    field_types,
    load_state,
)
from gandiag.types import StepRecord

# Written by gandiag at commit be67188, before states were declared: for every detector
# registered then, ``state_dict()`` after the first 517 records of ``stream_for(name)``.
SAVED_BEFORE_DECLARATIONS = Path(__file__).parent / "data" / "states_before_declarations.json"
SPLIT = 517


def json_round_trip(state: dict) -> dict:
    return json.loads(json.dumps(state))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_state_is_declared_and_reset_returns_to_it(name: str) -> None:
    cls = get_detector_class(name)
    assert issubclass(cls, SignalDetector)
    assert dataclasses.is_dataclass(cls.State) and issubclass(cls.State, DeclaredState)
    fresh = cls().state_dict()
    det = cls()
    run_detectors([det], stream_for(name))
    fed = det.state_dict()
    assert fed != fresh
    # everything the detector wrote is a declared field of the declared type
    assert set(fed["state"]) == set(field_types(cls.State))
    det.reset()
    assert det.state_dict() == fresh
    # the dict the per-record code writes is the typed object's own storage
    assert det.state is vars(det.declared_state)


def with_optional_signals(records: list[StepRecord]) -> list[StepRecord]:
    """The GAN stream plus the signals of branches off by default or not in the stream:
    G's update cosine (non_convergence's rotation), r_v without raw means (d_overfitting)."""
    out = []
    for i, r in enumerate(records):
        sc = {k: v for k, v in r.scalars.items() if k != S.D_VAL_RAW_MEAN}
        sc[S.update_cosine("G")] = -0.9 if r.step >= 1500 else 0.3 + 0.01 * (i % 7)
        out.append(StepRecord(r.step, sc))
    return out


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("non_convergence", {"cosine_max": -0.5, "margin_min": 0.5}),
        ("d_overfitting", {}),
    ],
)
def test_optional_branches_write_only_declared_fields(name: str, params: dict) -> None:
    recs = with_optional_signals(gan_stream(steps=2500, overfit_at=1200, saturate_at=2000))
    whole_det = get_detector_class(name)(**params)
    whole = run_detectors([whole_det], recs)
    first = get_detector_class(name)(**params)
    head = run_detectors([first], recs[:1600])
    second = get_detector_class(name)(**params)
    second.load_state_dict(json_round_trip(first.state_dict()))
    assert head + run_detectors([second], recs[1600:]) == whole
    written = {k for k, v in whole_det.state_dict()["state"].items() if v is not None}
    expected = {"cosine", "cosine_step", "margin", "margin_step"} if params else {"rv_step"}
    assert expected <= written


def saved_before_declarations() -> dict[str, dict]:
    return json.loads(SAVED_BEFORE_DECLARATIONS.read_text())


@pytest.mark.parametrize("name", sorted(saved_before_declarations()))
def test_state_saved_before_declarations_resumes(name: str) -> None:
    old = saved_before_declarations()[name]
    assert "version" not in old
    recs = stream_for(name)
    # a resumed run rebuilds its detectors with the parameters in its metadata (the ones
    # saved with this state), even where a default has changed since: so do all three
    cls, params = get_detector_class(name), old["params"]
    whole = run_detectors([cls(**params)], recs)
    resumed = cls(**params)
    resumed.load_state_dict(old)
    head = run_detectors([cls(**params)], recs[:SPLIT])
    got = head + run_detectors([resumed], recs[SPLIT:])
    if cls.State.version == 1:
        assert got == whole
        return
    # a later version may drop a smoothed value the old state held (its upgrade says which):
    # the resumed run restarts that mean, which then differs by a forgotten, decayed tail
    assert [(a.detector, a.severity, a.step, a.onset_step) for a in got] == [
        (a.detector, a.severity, a.step, a.onset_step) for a in whole
    ]
    for a, b in zip(got, whole):
        assert a.evidence == pytest.approx(b.evidence, rel=1e-9, abs=1e-12, nan_ok=True)


def test_every_registered_detector_has_a_state_saved_before_declarations() -> None:
    # a detector registered later needs no old-format test; one renamed would lose its saves
    assert set(saved_before_declarations()) <= set(DETECTORS)


def test_upgrade_fills_lazily_written_fields_and_drops_retired_ones() -> None:
    old = {
        "detector": "noise_dominated",
        "params": {},
        "state": {"streak": {"since": None, "records": 0}, "alerted": False, "first": None},
        "signals": {"first_step": 0, "seen": [True], "reported": [False]},
    }
    det = get_detector_class("noise_dominated")()
    det.load_state_dict(old)
    assert det.state_dict()["state"] == {"streak": {"since": None, "records": 0}, "alerted": False}
    unsmoothed = {  # mode_collapse before its first pdist value: no pdist_step yet
        **get_detector_class("mode_collapse")().state_dict(),
        "detector": "mode_collapse",
    }
    del unsmoothed["version"], unsmoothed["state"]["pdist_step"]
    det = get_detector_class("mode_collapse")()
    det.load_state_dict(unsmoothed)
    assert det.state["pdist_step"] is None


def saved(name: str = "mode_collapse") -> dict:
    det = get_detector_class(name)()
    run_detectors([det], gan_stream(steps=600))
    return json_round_trip(det.state_dict())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["state"].update(pdist_max=0.2),
            r"mode_collapse: .*unknown field\(s\) pdist_max",
        ),
        (lambda s: s["state"].pop("streak"), r"mode_collapse: .*lacks field\(s\) streak"),
        (
            lambda s: s["state"].update(pdist="low"),
            r"mode_collapse: .*'pdist' must be float \| None",
        ),
        (
            lambda s: s["state"]["streak"].update(since=1.5),
            r"mode_collapse: .*'streak'\['since'\] must be int \| None, got 1.5",
        ),
        (lambda s: s["state"]["streak"].pop("records"), r"'streak' must have keys since, records"),
        (lambda s: s["state"]["evals"].append("x"), r"'evals'\[\d+\] must be list"),
        (lambda s: s.update(version=99), r"mode_collapse: saved state has version 99, newer"),
        (lambda s: s["signals"]["seen"].append(True), r"covers 2 signal group\(s\).* requires 1"),
        (lambda s: s.pop("signals"), r"mode_collapse: saved state has no 'signals' entry"),
    ],
)
def test_a_state_that_does_not_match_the_declaration_is_refused(edit, message: str) -> None:
    state = saved()
    edit(state)
    det = get_detector_class("mode_collapse")()
    before = det.state_dict()
    with pytest.raises(StateError, match=message):
        det.load_state_dict(state)
    assert det.state_dict() == before  # a refused state leaves the detector as it was


def test_an_undeclared_field_is_caught_when_saving() -> None:
    det = get_detector_class("mode_collapse")()
    det.state["pdist_smoothed"] = 0.5
    with pytest.raises(
        StateError,
        match=r"mode_collapse: state has unknown field\(s\) pdist_smoothed, not declared",
    ):
        det.state_dict()
    det = get_detector_class("mode_collapse")()
    det.state["alerted"] = 1
    with pytest.raises(StateError, match=r"mode_collapse: state field 'alerted' must be bool"):
        det.state_dict()


@dataclasses.dataclass
class _Counter(DeclaredState):
    version = 2
    count: int = 0
    streaks: dict[str, Streak] = dataclasses.field(default_factory=dict)

    @classmethod
    def upgrade(cls, fields: dict, version: int | None) -> dict:
        if version == 1:  # version 1 called the field "n"
            return {"count": fields["n"], "streaks": fields["streaks"]}
        return super().upgrade(fields, version)


def test_declared_upgrade_and_json_round_trip_of_a_state_class() -> None:
    state = _Counter(count=3, streaks={"G": {"since": 4, "records": 2}})
    dumped = json_round_trip(dump_state("counter", state))
    loaded = load_state("counter", _Counter, dumped, 2)
    assert loaded == state and loaded.streaks is not state.streaks
    assert load_state("counter", _Counter, {"n": 3, "streaks": {}}, 1).count == 3
    with pytest.raises(StateError, match="counter: no upgrade from version 0 to 2"):
        load_state("counter", _Counter, {"count": 3, "streaks": {}}, 0)
    with pytest.raises(StateError, match="keys must be strings"):
        dump_state("counter", _Counter(streaks={1: {"since": None, "records": 0}}))  # type: ignore[dict-item]


def test_check_value_reads_json_types() -> None:
    check_value(float("nan"), float, "x")
    check_value(3, float, "x")  # an int is a float (PEP 484)
    for value, tp in [(True, int), (1.0, int), (True, float), ([1], dict[str, int]), (None, str)]:
        with pytest.raises(StateError, match="x must be"):
            check_value(value, tp, "x")
    with pytest.raises(TypeError, match="not a JSON type"):
        check_value((1, 2), tuple[int, int], "x")
