"""``gandiag doctor``: from an alert, test the remedies from the last healthy state.

For a run of the reference trainer with a warning or critical alert, :func:`doctor` finds
the last checkpoint before the alert's onset (the run's checkpoint ring, or the
initialisation when the ring holds none that early), forks one short branch per remedy the
alert names and the model supports, plus an untouched continuation as the control, runs
them side by side within a step budget, scores each (does the alert clear, what else fires,
the final FID or mode coverage), and writes a report ranking the remedies with their
curves and samples. Deterministic given the run's seed; branches run in parallel processes
where cores allow.

A user's own loop does the same with :func:`run_branches` and a function that builds and
trains one branch into a run directory with a :class:`gandiag.Monitor`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

from gandiag import signals
from gandiag.doctor.remedies import ADVICE_ONLY, CATALOG, Remedy, remedies_for
from gandiag.doctor.score import (
    BranchScore,
    judge_by_recorded_alerts_if_replay_is_blind,
    rank_branches,
    score_branch,
)
from gandiag.store import RunReader
from gandiag.types import Alert, Severity

__all__ = [
    "CATALOG",
    "DoctorResult",
    "NothingToTreat",
    "Remedy",
    "doctor",
    "remedies_for",
    "run_branches",
    "shutdown_pool",
]

log = logging.getLogger("gandiag.doctor")
CONTROL = "control"
#: keys the trainer stores beside the config in the run's metadata (not config options)
_STORED_EXTRAS = ("resolved", "model_options")


class NothingToTreat(ValueError):
    """doctor has nothing to try on this run: no serious alert, or no remedy that applies.

    Not a failure of the run or of doctor: the message says which, and why (the CLI
    prints it and exits 0).
    """


@dataclass
class DoctorResult:
    run_dir: str
    detector: str
    severity: str
    onset_step: int
    alert_step: int
    #: where the evidence began: the alert's onset, or earlier when a warm-up censored it
    evidence_onset: int
    fork_step: int  # the state branches start from (-1: the initialisation)
    #: branches whose remedy changes the networks, trained from the initialisation
    fresh_start: list[str]
    budget: int
    branches: list[BranchScore]  # ranked, best first
    best: str | None  # the best remedy that clears the alert and beats the control
    first_named: str | None  # the remedy practitioners name first for this failure
    #: the control fired the alert again: without that, the budget was too short to tell
    control_reproduced: bool
    wall_s: float
    report: str
    #: where the wall time went (seconds): setup, the pool, the branches, scoring, the report
    timing: dict[str, Any] = field(default_factory=dict)
    #: earlier serious alerts passed over, each with why no remedy of it could be tried
    passed_over: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.best is not None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["branches"] = [b.to_dict() for b in self.branches]
        return out


def serious_alerts(run_dir: Path, detector: str | None = None) -> list[Alert]:
    """The run's warning and critical alerts (only ``detector``'s when given), first first;
    :class:`NothingToTreat` when there is none."""
    with RunReader(run_dir) as reader:
        alerts = [a for a in reader.read_alerts() if a.severity.rank >= Severity.WARNING.rank]
    if detector is not None:
        alerts = [a for a in alerts if a.detector == detector]
    if not alerts:
        which = f" from {detector}" if detector else ""
        raise NothingToTreat(f"{run_dir} has no warning or critical alert{which}: nothing to treat")
    return sorted(alerts, key=lambda a: (a.step, -a.severity.rank))


def pick_alert(run_dir: Path, detector: str | None = None) -> Alert:
    """The run's first warning or critical alert (or the first from ``detector``)."""
    return serious_alerts(run_dir, detector)[0]


def why_untreatable(alert: Alert, config: dict[str, Any]) -> str:
    """Why no catalogued remedy of ``alert`` can be tried on a run with ``config``."""
    catalogued = ", ".join(r.name for r in CATALOG.get(alert.detector, ())) or "none"
    advice = [t for t in alert.remedies if t in ADVICE_ONLY]
    return (
        f"{alert.detector} (step {alert.step}): none of its catalogued remedies "
        f"({catalogued}) applies to this run's settings"
        + (f"; its other remedies are advice only: {'; '.join(advice)}" if advice else "")
    )


def choose_alert(
    run_dir: Path, config: dict[str, Any], detector: str | None = None
) -> tuple[Alert, list[Remedy], list[str]]:
    """The first serious alert with a remedy this run supports, its remedies, and why each
    earlier alert was passed over; :class:`NothingToTreat` when no alert has one.

    An alert whose failure has no remedy doctor can try (a setting the loop does not
    read, an architecture change) does not stop doctor from treating a later one.
    """
    passed: list[str] = []
    for alert in serious_alerts(run_dir, detector):
        chosen = remedies_for(alert.detector, config) if alert.detector in CATALOG else []
        if chosen:
            return alert, chosen, passed
        passed.append(
            why_untreatable(alert, config)
            if alert.detector in CATALOG
            else f"{alert.detector} (step {alert.step}): doctor catalogues no remedy for it"
        )
    raise NothingToTreat(
        f"no applicable remedy for any serious alert of {run_dir}: " + " | ".join(passed)
    )


def doctor(
    run_dir: str | Path,
    *,
    budget: int | None = None,
    workers: int | None = None,
    detector: str | None = None,
    out_dir: str | Path | None = None,
    remedies: Sequence[Remedy] | None = None,
    max_budget: int | None = None,
) -> DoctorResult:
    """Fork, run and rank remedies for a reference-trainer run's first serious alert.

    ``budget`` is the number of steps each branch trains past the fork (default: twice
    the alert's detection span, at least two evaluation intervals, and for a failure of
    the phase schedule at least to the run's last step: :func:`default_budget`;
    ``max_budget`` caps that default, not an explicit ``budget``). ``workers`` processes
    run branches side by side (default: the cores available). Results land in
    ``out_dir`` (default ``<run>/doctor``): one run directory per branch, ``doctor.json``
    and ``report.html``.
    """
    from gandiag.train.ring import CheckpointRing

    started = time.perf_counter()
    run_dir = Path(run_dir)
    with RunReader(run_dir) as reader:
        config = reader.info().config
    if not config or "model" not in config:
        raise ValueError(
            f"{run_dir} was not trained by gandiag's reference trainer (no stored config); "
            "use gandiag.doctor.run_branches with a function that trains your own branches"
        )
    passed_over: list[str] = []
    if remedies is not None:
        alert, chosen = pick_alert(run_dir, detector), list(remedies)
        if not chosen:
            raise ValueError("remedies is empty: pass at least one, or None for the catalogue's")
    else:
        alert, chosen, passed_over = choose_alert(run_dir, config, detector)
        for why in passed_over:
            log.warning("passed over %s", why)
    ring = CheckpointRing(run_dir / "ring") if (run_dir / "ring").is_dir() else None
    onset = evidence_onset(run_dir, alert)
    entry = ring.last_healthy(onset) if ring is not None else None
    fork_step = entry.step if entry is not None else -1
    start_from = str(entry.path(ring.dir)) if entry is not None and ring is not None else None
    if budget is None:
        budget = default_budget(alert, fork_step, config)
        if max_budget is not None:
            budget = min(budget, max_budget)
    if budget < 1:
        raise ValueError(f"budget must be at least 1 step, got {budget}")
    base = {k: v for k, v in config.items() if k not in _STORED_EXTRAS}
    base.update(
        steps=fork_step + 1 + budget,
        checkpoint={"every": 0, "ring": 0, "ring_every": 0},
        policy={"on_warning": "none", "on_critical": "none"},
    )
    out = Path(out_dir) if out_dir is not None else run_dir / "doctor"
    if budget < alert.step - fork_step:
        log.warning(
            "the budget (%d steps) ends before the %d steps the run took from the fork to "
            "raise %s: the control cannot show whether the failure returns; raise --budget",
            budget,
            alert.step - fork_step,
            alert.detector,
        )
    jobs = [(CONTROL, "the run continued unchanged", base, False)]
    for r in chosen:
        branch_cfg = r.apply({**base, **{k: config[k] for k in _STORED_EXTRAS if k in config}})
        branch_cfg = {k: v for k, v in branch_cfg.items() if k not in _STORED_EXTRAS}
        if branch_cfg.get("vae", {}).get("kl_anneal_steps") == -1:
            # the weight rises from 0 at the fork (not at step 0, long past for a late fork)
            branch_cfg["vae"].update(
                kl_anneal_steps=max(1, budget // 2), kl_anneal_start=fork_step + 1
            )
        if branch_cfg.get("translation", {}).get("pretrain_steps") == -1:
            # the loop pre-trains while step < pretrain_steps, counted from step 0: a branch
            # forked past the model's 200 steps would pre-train not at all. From the fork
            # over half the budget, so the adversarial phase after it is judged too
            branch_cfg["translation"]["pretrain_steps"] = fork_step + 1 + max(1, budget // 2)
        jobs.append((r.name, r.description, branch_cfg, r.fresh_start))

    # a remedy that changes the networks trains from the initialisation to the same step
    tasks = [
        _TrainerBranch(name, desc, cfg, str(out / name), start_from, fork_step)
        if not fresh and start_from is not None
        else _TrainerBranch(name, desc, cfg, str(out / name), None)
        for name, desc, cfg, fresh in jobs
    ]
    # longest first, so a fresh-start branch does not start last and finish alone
    tasks.sort(key=lambda t: -t.steps_to_run)
    timing: dict[str, Any] = {"setup_s": time.perf_counter() - started}
    # the branches' second half: after as many steps as the default budget gives the
    # failure to show again (twice the steps the run took from the fork to its alert)
    judge_from = fork_step + 1 + budget // 2
    scores = run_branches(
        tasks, alert.detector, fork_step, workers=workers, timing=timing, judge_from=judge_from
    )
    ranked = rank_branches(scores, CONTROL, order=[r.name for r in chosen])
    if next(s for s in ranked if s.name == CONTROL).cleared:
        log.warning(
            "the control continuation did not raise %s again within %d steps: the budget is "
            "too short to tell whether a remedy helped; raise --budget",
            alert.detector,
            budget,
        )
    best = next(
        (s.name for s in ranked if s.name != CONTROL and s.cleared and s.improves_on_control),
        None,
    )
    first_named = chosen[0].name if remedies is None else None
    from gandiag.doctor.report import write_report

    result = DoctorResult(
        run_dir=str(run_dir),
        detector=alert.detector,
        severity=alert.severity.value,
        onset_step=alert.onset_step,
        alert_step=alert.step,
        evidence_onset=onset,
        fork_step=fork_step,
        fresh_start=[r.name for r in chosen if r.fresh_start and start_from is not None],
        budget=budget,
        branches=ranked,
        best=best,
        first_named=first_named,
        control_reproduced=not next(s for s in ranked if s.name == CONTROL).cleared,
        wall_s=0.0,
        report=str(out / "report.html"),
        timing=timing,
        passed_over=passed_over,
    )
    t_report = time.perf_counter()
    write_report(result, alert, out / "report.html")
    timing["report_s"] = time.perf_counter() - t_report
    result.wall_s = time.perf_counter() - started
    (out / "doctor.json").write_text(json.dumps(result.to_dict(), indent=1, default=str))
    return result


def fails_the_schedule(detector: str) -> bool:
    """Whether ``detector`` watches the phase schedule itself: it cannot run without the
    phase signals (``phase/index``, ``phase/alpha``), as the fade-in and transition
    detectors of progressive growing. A detector that only restarts at each phase (it
    merely reads them) watches something else."""
    from gandiag.detectors import DETECTORS

    cls = DETECTORS.get(detector) if detector in DETECTORS else None
    needs = set(getattr(cls, "requires", ()))
    return bool(needs & {signals.PHASE_INDEX, signals.PHASE_ALPHA})


def default_budget(alert: Alert, fork_step: int, config: dict[str, Any]) -> int:
    """Doctor's default branch budget: twice the steps the run took from the fork to the
    alert, at least two evaluation intervals, so the control runs past the step where the
    failure came and can show whether it returns.

    A failure of the phase schedule (:func:`fails_the_schedule`: a fade-in that does not
    fade, a collapse at a resolution switch) does its harm at the resolutions still to
    come: the new layers are switched in untrained, each time. Its branches run to the
    run's own last step, through the rest of the schedule, so they are compared at the
    final resolution after its stable phase; a branch stopped a few steps into the last
    resolution (the first ProGAN measurement: 10 of its steps) shows every branch barely
    trained there, whatever its fade did (FID 339.8 against 339.6).
    """
    every = int(config.get("eval", {}).get("every") or 500)
    budget = max(2 * (alert.step - max(fork_step, 0)), 2 * every)
    if fails_the_schedule(alert.detector) and config.get("steps"):
        budget = max(budget, int(config["steps"]) - 1 - fork_step)
    return budget


def evidence_onset(run_dir: Path, alert: Alert) -> int:
    """The step the alert's evidence began, for choosing the state to fork from.

    A detector with a warm-up counts evidence only from the end of its warm-up, so an
    alert whose onset is that step says "at or before here": the condition may have held
    long before (a generator that collapsed early). For such a censored onset, the same
    detector with the run's parameters but no warm-up is replayed over the run's stored
    records up to the alert; the onset of the evidence still under way at the censored
    onset (the latest replayed alert starting at or before it: an early episode that
    recovered and raised its alert is passed over) is where the evidence began. Any other
    onset is returned as it is.
    """
    from gandiag.detectors import DetectorSuite

    with RunReader(run_dir) as reader:
        spec = [e for e in (reader.meta("detectors") or []) if e.get("name") == alert.detector]
        if not spec:
            return alert.onset_step
        warmup = spec[0].get("params", {}).get("warmup_steps")
        if not isinstance(warmup, (int, float)) or alert.onset_step > warmup:
            return alert.onset_step
        suite = DetectorSuite.from_spec(spec, {alert.detector: {"warmup_steps": 0}})
        suite.bind(reader.meta("networks"), reader.meta("network_stages"))
        onsets = []
        for rec in reader.read_records():
            if rec.step > alert.step:
                break
            onsets += [
                a.onset_step
                for a in suite.update(rec)
                if a.severity.rank >= Severity.WARNING.rank and a.onset_step <= alert.onset_step
            ]
    return max(onsets, default=alert.onset_step)


# -- branches -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TrainerBranch:
    """One reference-trainer branch (picklable, so a process pool can run it)."""

    name: str
    description: str
    config: dict[str, Any]
    run_dir: str
    start_from: str | None
    fork_step: int = -1  # the step of ``start_from`` (-1: from the initialisation)

    @property
    def steps_to_run(self) -> int:
        return int(self.config["steps"]) - (self.fork_step + 1)

    def __call__(self) -> None:
        from gandiag.train.trainer import train

        Path(self.run_dir).parent.mkdir(parents=True, exist_ok=True)
        train(self.config, self.run_dir, progress=False, start_from=self.start_from)


BranchTask = Callable[[], None]


def run_branches(
    tasks: Sequence[Any],
    detector: str,
    fork_step: int,
    *,
    workers: int | None = None,
    timing: dict[str, Any] | None = None,
    judge_from: int | None = None,
) -> list[BranchScore]:
    """Run branch tasks side by side and score each from its run store.

    Each task is a picklable callable with ``name``, ``description`` and ``run_dir``
    attributes that trains one branch into ``run_dir`` with a :class:`gandiag.Monitor`
    (any loop); the one named ``"control"`` is the untouched continuation. ``fork_step``
    is the last step of the shared history (branch alerts at or before it are ignored);
    ``judge_from``, when given, is where the alert's clearing is judged from (its detector
    replayed over each branch from that step, see :func:`score_branch`).
    With ``workers > 1`` the tasks run in worker processes, one torch thread each, taken
    from a pool kept for the life of the calling process (:func:`shutdown_pool` ends it):
    the workers are forked from a server that imported torch and gandiag once, so
    neither a second doctor call nor a second worker pays that import again. Tasks are
    handed out in the order given (put the longest first). Each task starts from the same
    global RNG state, whatever ran before it in its worker, so results depend only on the
    seeds. ``timing``, when given, receives where the wall time went: ``pool_s`` (starting
    the workers; 0 when the pool was warm), ``first_start_s`` (from submitting to the
    first task running), ``branches_s`` (submitting to the last task done), ``tasks``
    (per task: start and end relative to submitting, its own wall time) and ``scoring_s``.
    """
    for t in tasks:
        if Path(t.run_dir, "run.sqlite").exists():
            raise FileExistsError(
                f"{t.run_dir} already holds a run: doctor never overwrites a branch; "
                "choose another --out directory or remove it"
            )
    n = workers if workers is not None else min(len(tasks), os.cpu_count() or 1)
    spans: dict[str, tuple[float, float]] = {}
    t_pool = time.perf_counter()
    pool = _pool(n) if n > 1 else None
    t0 = time.time()
    pool_s = time.perf_counter() - t_pool
    if pool is None:
        for t in tasks:
            spans[t.name] = _timed(t)
    else:
        futures = {t.name: pool.submit(_timed, t) for t in tasks}
        try:
            for name, fut in futures.items():
                spans[name] = fut.result()
        except BrokenProcessPool:
            shutdown_pool()  # a worker died: the next call starts a fresh pool
            raise
    branches_s = time.time() - t0
    t_score = time.perf_counter()
    scores = [
        score_branch(
            t.name,
            t.description,
            Path(t.run_dir),
            detector,
            fork_step,
            spans[t.name][1] - spans[t.name][0],
            judge_from,
        )
        for t in tasks
    ]
    if judge_from is not None:
        scores = judge_by_recorded_alerts_if_replay_is_blind(scores, CONTROL)
    if timing is not None:
        timing.update(
            workers=n,
            pool_s=pool_s,
            first_start_s=min(a for a, _ in spans.values()) - t0,
            branches_s=branches_s,
            tasks={
                k: {"start_s": a - t0, "end_s": b - t0, "wall_s": b - a}
                for k, (a, b) in spans.items()
            },
            scoring_s=time.perf_counter() - t_score,
        )
    return scores


_POOL: tuple[int, ProcessPoolExecutor] | None = None


def _pool(n: int) -> ProcessPoolExecutor:
    """The process pool of ``n`` workers, started once per process and reused."""
    global _POOL
    if _POOL is not None and _POOL[0] == n:
        return _POOL[1]
    shutdown_pool()
    if "forkserver" in get_all_start_methods():
        ctx = get_context("forkserver")
        # the server imports these once; every worker is forked from it with them loaded
        ctx.set_forkserver_preload(["torch", "gandiag.train.trainer"])
    else:  # Windows: spawned workers import torch and gandiag themselves
        ctx = get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_one_thread)
    _POOL = (n, pool)
    return pool


def shutdown_pool() -> None:
    """Stop the worker processes of :func:`run_branches` (also done at exit)."""
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=True, cancel_futures=True)
        _POOL = None


atexit.register(shutdown_pool)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _timed(task: Any) -> tuple[float, float]:
    """Run ``task`` from a fixed global RNG state (the caller's is put back after); its
    (start, end) wall-clock times."""
    import random

    import numpy as np
    import torch

    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    try:
        start = time.time()
        task()
        return start, time.time()
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
