"""The feed loop's cost per record stays flat: name work once per name set, checks only
where a detector has signals to read, oscillation's FFTs only where a peak is possible.

Counted, not timed (like tests/store/test_read_scaling.py): a run 4x as long must not
do more name matching, and a detector must not be handed records that hold none of the
signals it reads. Skipping is only allowed because a declared ``reads`` is honest, which
``test_declared_reads_are_honest`` checks for every registered detector.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
from collections import Counter

import numpy as np
import pytest
from detector_streams import gan_stream
from test_state_and_config import faulty_stream, stream_for

from gandiag import signals as S
from gandiag.detectors import DETECTORS, DetectorSuite, default_detectors, get_detector_class
from gandiag.detectors.names import forget_names, signal_names
from gandiag.detectors.oscillation import may_peak, spectral_peak
from gandiag.detectors.support import SignalDetector
from gandiag.types import StepRecord


def _counting(monkeypatch: pytest.MonkeyPatch, owner: object, attr: str, calls: Counter) -> None:
    original = getattr(owner, attr)

    def counted(*args: object, **kwargs: object) -> object:
        calls[attr] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attr, counted)


def _name_work(monkeypatch: pytest.MonkeyPatch, steps: int) -> Counter:
    """Name matching and name parsing done while the default GAN set reads ``steps`` records."""
    records = gan_stream(steps=steps, seed=1)
    suite = DetectorSuite(default_detectors("gan"))
    forget_names()  # count from scratch: the name sets are interned process-wide
    calls: Counter = Counter()
    with monkeypatch.context() as m:
        for attr in ("nets_with_prefix", "d_nets"):
            _counting(m, S, attr, calls)
        _counting(m, fnmatch, "filter", calls)
        suite.run(records)
    return calls


def test_name_work_does_not_grow_with_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    short, long = _name_work(monkeypatch, 600), _name_work(monkeypatch, 2400)
    # the stream's records carry a few distinct name sets (every step, every 10 steps for
    # the samples' statistics, every 100 for evaluations...): the work is per set
    assert short["filter"] > 0 and short["nets_with_prefix"] > 0
    assert long == short, f"name work grew with the run: {dict(short)} -> {dict(long)}"


def test_a_detector_sees_only_records_holding_what_it_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_d = lambda k: not k.startswith(("d/D_a/", "d/D_b/"))
    records = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if one_d(k)})
        for r in gan_stream(steps=1500, seed=2, partial_at=900)
    ]
    with_coverage = sum(S.COVERAGE_TOP_BIN_EXCESS in r.scalars for r in records)
    assert 0 < with_coverage < len(records) / 5
    suite = DetectorSuite(default_detectors("gan"))
    seen: Counter = Counter()
    for det in suite.detectors:

        def counted(record: StepRecord, _check=det.check, _name=det.name) -> list:
            seen[_name] += 1
            return _check(record)

        monkeypatch.setattr(det, "check", counted)
    alerts = suite.run(records)
    assert any(a.detector == "sample_coverage" for a in alerts)
    assert seen["sample_coverage"] == with_coverage
    # one discriminator's outputs only: the multi-discriminator detector has nothing to read
    assert seen["discriminator_imbalance"] == 0
    # a detector without ``reads`` sees every record
    assert seen["oscillation"] == len(records)


def _without_reads(record: StepRecord, det: SignalDetector) -> StepRecord:
    reads = det._reads or ()
    kept = {
        k: v for k, v in record.scalars.items() if not any(fnmatch.fnmatch(k, p) for p in reads)
    }
    return StepRecord(record.step, kept, record.histograms, record.wall_time)


@pytest.mark.parametrize(
    "name", sorted(n for n in DETECTORS if get_detector_class(n).__dict__.get("reads"))
)
def test_declared_reads_are_honest(name: str) -> None:
    """A record without any signal a detector reads leaves it unchanged and silent, at
    every point of a stream with faults (so skipping such records changes nothing)."""
    for stream in (stream_for(name), faulty_stream()):
        det = get_detector_class(name)()
        for i, record in enumerate(stream):
            if i % 7 == 3:
                probe = copy.deepcopy(det)
                before = json.dumps(probe.state_dict(), sort_keys=True)
                bare = _without_reads(record, det)
                assert not det.listens_to(bare)
                assert probe.check(bare) == [], f"{name} alerted on a record without its signals"
                after = json.dumps(probe.state_dict(), sort_keys=True)
                assert after == before, f"{name} changed state on a record without its signals"
            det.update(record)


def test_skipping_records_does_not_change_alerts() -> None:
    """The default sets over a stream whose records hold random subsets of the signals:
    the same alerts as each detector's ``check`` run on every record."""
    rng = np.random.default_rng(5)
    records = [
        StepRecord(r.step, {k: v for k, v in r.scalars.items() if rng.random() > 0.3})
        for r in faulty_stream()
    ]
    for kind in ("gan", "vae", "video"):
        fast = DetectorSuite(default_detectors(kind)).run(records)
        plain = []
        for det in default_detectors(kind):
            for record in records:
                plain.extend(det._check_signals(record, signal_names(record)))
                plain.extend(det.check(record))
        key = lambda a: (a.step, a.detector, a.diagnosis)
        assert sorted(fast, key=key) == sorted(plain, key=key)


def test_signal_names_are_shared_by_records_with_the_same_names() -> None:
    a = StepRecord(1, {"loss/G": 1.0, "loss/D": 2.0})
    b = StepRecord(2, {"loss/G": 3.0, "loss/D": 4.0})
    c = StepRecord(3, {"loss/D": 4.0, "loss/G": 3.0})
    assert signal_names(a) is signal_names(b)
    assert signal_names(c) is not signal_names(a)  # the order is kept: another set
    assert signal_names(c).names == ("loss/D", "loss/G")
    assert signal_names(a).derive(S.d_nets) == []


def _windows(rng: np.random.Generator, count: int) -> list[list[float]]:
    """Windows of block means from noise to clean cycles, with offsets, lines, steps,
    random walks, constants and rounded values: shares on both sides of any threshold."""
    out = []
    for k in range(count):
        n = int(rng.choice([40, 40, 24, 64]))
        t = np.arange(n)
        offset = rng.normal() * 10.0 ** rng.uniform(-3, 8)
        scale = 10.0 ** rng.uniform(-10, 5)
        kind = k % 6
        if kind == 0:
            x = offset + scale * rng.normal(size=n)
        elif kind == 1:
            cycles = rng.uniform(1, n / 4)
            wave = np.sin(2 * math.pi * cycles * t / n) * rng.uniform(0, 3)
            x = offset + scale * (wave + rng.normal(size=n))
        elif kind == 2:
            x = offset + scale * t + 1e-9 * scale * rng.normal(size=n)
        elif kind == 3:
            x = np.full(n, offset)
        elif kind == 4:
            x = offset + scale * np.cumsum(rng.normal(size=n))
        else:
            x = np.round(offset + scale * rng.normal(size=n), int(rng.integers(0, 4)))
        out.append([float(v) for v in x])
    return out


def test_oscillation_screen_never_hides_a_peak() -> None:
    """may_peak answers False only where spectral_peak's share is below the threshold."""
    rng = np.random.default_rng(11)
    ruled_out = 0
    for window in _windows(rng, 3000):
        for peak_share in (0.05, 0.3, 0.5, 0.8):
            share = spectral_peak(window, 2)[0]
            if not may_peak([window], 2, peak_share)[0]:
                ruled_out += 1
                assert share < peak_share, (window, share, peak_share)
    assert ruled_out > 1000  # the screen does rule windows out (else it saves nothing)
    # several windows at once answer as each alone
    batch = _windows(rng, 60)
    batch = [w for w in batch if len(w) == 40]
    assert may_peak(batch, 2, 0.5) == [may_peak([w], 2, 0.5)[0] for w in batch]


def test_oscillation_runs_the_full_spectrum_only_where_a_peak_is_possible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gandiag.detectors.oscillation as osc

    calls: Counter = Counter()
    _counting(monkeypatch, osc, "spectral_peak", calls)
    healthy = gan_stream(steps=3000, seed=4)
    alerts = DetectorSuite([get_detector_class("oscillation")()]).run(healthy)
    assert not alerts
    blocks = 3000 // 20
    assert calls["spectral_peak"] < blocks  # three windows a block; most ruled out
    calls.clear()
    swinging = gan_stream(steps=3000, oscillate_at=1500)
    alerts = DetectorSuite([get_detector_class("oscillation")()]).run(swinging)
    assert [a.detector for a in alerts] == ["oscillation"]
    assert calls["spectral_peak"] > 0
