"""The doctor's report: remedies ranked with their evidence, curves against the control,
and each branch's last sample grid. One self-contained HTML file (plotly.js inline)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from gandiag._atomic import atomic_write
from gandiag.detectors import get_detector_class
from gandiag.doctor.score import QUALITY, BranchScore
from gandiag.reports.html import CSS, esc, figure_div, image_tag, table
from gandiag.store import RunReader
from gandiag.types import Alert

if TYPE_CHECKING:
    from gandiag.doctor import DoctorResult

_MAX_POINTS = 400


def _signals(detector: str, reader: RunReader) -> list[str]:
    """Losses, then the signals the detector reads, then evaluations: what a person compares."""
    names = reader.scalar_names()
    try:
        wanted = get_detector_class(detector).requires
    except ValueError:
        wanted = ()
    picked = [n for n in names if n.startswith("loss/")][:3]
    for w in wanted:
        picked += [n for n in names if (n == w or (w.endswith("/") and n.startswith(w)))][:2]
    quality = [q for q, source, _ in QUALITY if source == "scalar" and q in names]
    picked += quality + [n for n in names if n.startswith("eval/") and n.endswith("_share")]
    return list(dict.fromkeys(picked))


def write_report(result: DoctorResult, alert: Alert, path: Path) -> Path:
    readers = {b.name: RunReader(b.run_dir) for b in result.branches}
    try:
        control = readers.get("control")
        names = _signals(result.detector, control) if control is not None else []
        figures = []
        for i, name in enumerate(names):
            fig = go.Figure()
            values: set[float] = set()
            for b in result.branches:
                series = readers[b.name].read_scalars([name], max_points=_MAX_POINTS).get(name)
                if series is None or not len(series.steps):
                    continue
                values.update(float(v) for v in series.values)
                fig.add_trace(
                    go.Scatter(
                        x=series.steps,
                        y=series.values,
                        name=b.name,
                        mode="lines",
                        line={
                            "width": 3 if b.name == "control" else 1.5,
                            "dash": "dot" if b.name == "control" else "solid",
                        },
                    )
                )
            if len(values) < 2:  # a constant series (no NaN loss, say) says nothing here
                continue
            fig.update_layout(
                title=name,
                height=300,
                margin={"l": 50, "r": 10, "t": 40, "b": 40},
                xaxis_title="step",
            )
            figures.append(figure_div(fig, f"sig{i}"))
        rows = []
        for rank, b in enumerate(result.branches, 1):
            quality = "n/a" if b.quality is None else f"{b.quality_name} {b.quality:.4g}"
            better = {True: "better", False: "worse or equal", None: "—"}[b.improves_on_control]
            rows.append(
                [
                    str(rank),
                    b.name + (" (best)" if b.name == result.best else ""),
                    b.description,
                    _verdict(b),
                    ", ".join(b.other_findings) or "none",
                    quality,
                    better if b.name != "control" else "—",
                    f"{b.wall_s:.0f} s",
                ]
            )
        grids = []
        for b in result.branches:
            shots = readers[b.name].sample_grids()
            if shots:
                last = shots[-1]
                img = image_tag(Path(b.run_dir) / last.path, f"{b.name} step {last.step}")
                grids.append(
                    f"<figure>{img}<figcaption>{esc(b.name)}, step {last.step}"
                    "</figcaption></figure>"
                )
    finally:
        for r in readers.values():
            r.close()
    if result.best:
        headline = (
            f"<b>{esc(result.best)}</b> clears the {esc(result.detector)} alert and beats the "
            "control continuation"
        )
    else:
        headline = (
            f"No remedy both cleared the {esc(result.detector)} alert and beat the control "
            f"within {result.budget} steps"
        )
    if not result.control_reproduced:
        headline += (
            ". <b>Caution:</b> the control did not fire the alert again within the budget, "
            "so clearing it proves little; rerun with a larger --budget"
        )
    fork = "the initialisation" if result.fork_step < 0 else f"step {result.fork_step}"
    if result.evidence_onset < result.onset_step:
        fork += (
            f"; the reported onset {result.onset_step} is the end of the detector's warm-up, "
            f"and replayed without it the evidence begins at step {result.evidence_onset}"
        )
    fresh = [b for b in result.branches if b.name in result.fresh_start]
    if fresh:
        fork += (
            f"; {', '.join(esc(b.name) for b in fresh)} change the networks and train from "
            "the initialisation to the same step"
        )
    passed = "".join(f"<p>Passed over {esc(why)}.</p>" for why in result.passed_over)
    body = f"""
<h1>gandiag doctor</h1>
<div class="sub">{esc(result.run_dir)}</div>
<div class="verdict" style="border-color:#1f77b4">{headline}. Branches start from the last
healthy state before the onset ({fork}) and train {result.budget} steps each;
practitioners name <b>{esc(result.first_named or "—")}</b> first for this failure.</div>
<h2>The alert</h2>
<p>{esc(alert.one_line())}</p>
{passed}
<h2>Remedies, ranked</h2>
{
        table(
            [
                "rank",
                "branch",
                "change",
                "alert",
                "other findings",
                "quality",
                "vs control",
                "time",
            ],
            rows,
        )
    }
<h2>Curves, each branch against the control (dotted)</h2>
{"".join(figures)}
<h2>Samples at the end of each branch</h2>
<div class="grids">{"".join(grids)}</div>
"""
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>gandiag doctor</title>"
        f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head>"
        f"<body>{body}</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: f.write(page.encode("utf-8")))


def _verdict(b: BranchScore) -> str:
    """Whether the alert cleared, and over which steps it was judged."""
    if b.judged_from is None:
        return "cleared" if b.cleared else f"fired again ({len(b.target_alerts)})"
    if b.cleared:
        before = f"; raised {len(b.target_alerts)} before" if b.target_alerts else ""
        return f"cleared from step {b.judged_from}{before}"
    return f"fired again from step {b.judged_from}"
