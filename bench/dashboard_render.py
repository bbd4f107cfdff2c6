"""Run page of the dashboard on a long run, in headless Chromium: first render and every section.

A synthetic run (100,000 steps, ~60 scalar series, histograms every 50 steps, written by
``tests/synthetic_runs.py``) is served by ``create_app`` (werkzeug, threaded) and its
run page opened ``--repeats`` times in headless Chromium, this process and the browser
pinned to ``--cpus`` cores. Times are measured in the browser from navigation start
(``performance.now()``): *first render* when the run header and the alert timeline are
drawn, and for each section of panels when its callback has answered and every figure in it
is drawn. The HTML report of the same run (``gandiag report``) is written once and its size
recorded.

    python bench/dashboard_render.py --json bench/results/dashboard_render.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# the synthetic-run writer and the browser helpers are test scaffolding, under tests/
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench._report import table, write_json, write_section

# Installed before any page script runs: logs when each Dash callback answers, and samples
# the page every animation frame for what has been drawn.
PROBE = r"""
window.__gd = {answers: {}, top: null, sections: {}};
const origFetch = window.fetch;
window.fetch = function(url, opts) {
  const p = origFetch.apply(this, arguments);
  if (String(url).includes('_dash-update-component') && opts && opts.body) {
    let name = null;
    try {
      const outs = [].concat(JSON.parse(opts.body).outputs || []).flat();
      const body = outs.find(o => o && o.id && o.id.type === 'section-body');
      if (body) name = body.id.name;
    } catch (e) {}
    if (name !== null) p.then(r => r.clone().text()).then(() => {
      if (!(name in window.__gd.answers)) window.__gd.answers[name] = performance.now();
    }).catch(() => {});
  }
  return p;
};
function drawn(el) {
  const graphs = el.querySelectorAll('.dash-graph');
  return Array.from(graphs).every(g => g.querySelector('.main-svg'));
}
function sample() {
  const g = window.__gd, now = performance.now();
  const top = document.getElementById('run-top');
  const tl = document.getElementById('run-alert-timeline');
  if (g.top === null && top && top.textContent.trim() && tl && tl.querySelector('.main-svg'))
    g.top = now;
  document.querySelectorAll('[id*=\'"type":"section-body"\']').forEach(el => {
    const name = JSON.parse(el.id).name;
    if (name in g.sections || !(name in g.answers)) return;
    if (el.closest('[data-dash-is-loading="true"]')) return;
    if (drawn(el)) g.sections[name] = now;
  });
  requestAnimationFrame(sample);
}
requestAnimationFrame(sample);
"""


def _open_once(driver, url: str, sections: list[str], timeout: float) -> dict:
    driver.get("about:blank")
    driver.get(url)
    deadline = time.time() + timeout
    state: dict = {}
    while time.time() < deadline:
        state = driver.execute_script("return window.__gd || {};")
        if state.get("top") is not None and all(s in state.get("sections", {}) for s in sections):
            break
        time.sleep(0.1)
    return state


def _store_reads(run: Path, repeats: int) -> tuple[float, float]:
    """Median seconds to read every scalar series downsampled to 600 points, from the scalar
    blocks and from the raw rows (the path runs written before blocks take), alternating."""
    from gandiag.store import RunReader

    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(repeats):
        for blocks in (True, False) if i % 2 == 0 else (False, True):
            with RunReader(run) as r:
                if not blocks:
                    r._has_blocks = lambda: False  # type: ignore[method-assign]
                t0 = time.perf_counter()
                r.read_scalars(max_points=600)
                times[blocks].append(time.perf_counter() - t0)
    return statistics.median(times[True]), statistics.median(times[False])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--extra-layers", type=int, default=20, help="per-layer series per network")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cpus", type=int, default=2, help="pin server and browser to this many")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds per page load")
    p.add_argument("--run", type=Path, default=None, help="a runs folder holding run 'big'")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    from browser_support import ServedApp, headless_chrome

    from gandiag.dashboards import create_app
    from gandiag.figures import SECTIONS
    from gandiag.store import RunReader

    tmp = tempfile.TemporaryDirectory()
    folder = args.run
    if folder is None:
        from synthetic_runs import write_synthetic_run

        folder = Path(tmp.name)
        write_synthetic_run(
            folder / "big",
            steps=args.steps,
            extra_layers=args.extra_layers,
            histogram_every=50,
            batch=5000,
            grids=6,
            name="long-run",
        )
    with RunReader(folder / "big") as r:
        info = r.info()
        n_scalar = len(r.scalar_names())

    # The same page on a short run with the same series: what the page costs whatever the
    # run's length (browser, Dash, figures), timed alternately with the long run.
    from synthetic_runs import write_synthetic_run

    short = Path(tmp.name) / "short"
    write_synthetic_run(short / "big", steps=400, extra_layers=args.extra_layers, grids=6)
    served = {
        "long": ServedApp(create_app(folder, live_interval_ms=2000)),
        "short": ServedApp(create_app(short, live_interval_ms=2000)),
    }
    driver = headless_chrome()  # chromedriver and Chromium inherit the CPU pinning
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    runs: list[dict] = []
    short_runs: list[dict] = []
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        for i in range(args.repeats):
            for which in ("long", "short") if i % 2 == 0 else ("short", "long"):
                got = _open_once(
                    driver, served[which].url + "/run/big", list(SECTIONS), args.timeout
                )
                (runs if which == "long" else short_runs).append(got)
    finally:
        driver.quit()
        for s in served.values():
            s.stop()

    blocks_s, raw_s = _store_reads(folder / "big", args.repeats)
    load = [load_before, os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")]
    report = Path(tmp.name) / "report.html"
    from gandiag.cli import main as cli

    cli(["report", str(folder / "big"), "-o", str(report)])
    report_mb = report.stat().st_size / 1e6 if report.exists() else float("nan")
    tmp.cleanup()

    def med(values: list[float | None]) -> float:
        got = [v for v in values if v is not None]
        return statistics.median(got) / 1000 if len(got) == len(values) else float("nan")

    first = med([r.get("top") for r in runs])
    per_section = {s: med([r.get("sections", {}).get(s) for r in runs]) for s in SECTIONS}
    slowest = max(per_section.values())
    first_short = med([r.get("top") for r in short_runs])
    short_section = {s: med([r.get("sections", {}).get(s) for r in short_runs]) for s in SECTIONS}
    payload = {
        "benchmark": "dashboard_render",
        "steps": info.num_steps,
        "scalar_series": n_scalar,
        "cpus": cpus,
        "repeats": args.repeats,
        "first_render_s": first,
        "section_s": per_section,
        "all_sections_s": slowest,
        "short_run": {"first_render_s": first_short, "section_s": short_section},
        "report_mb": report_mb,
        "load_average": load,
        "store_read_s": {"blocks": blocks_s, "raw": raw_s, "ratio": raw_s / blocks_s},
        "raw": runs,
        "raw_short": short_runs,
        "targets": {"first_render_s": 2.0, "section_s": 5.0, "report_mb": 10.0},
    }
    write_json(args.json, payload)
    if not args.no_docs:
        write_section(
            "dashboard_render",
            "## Dashboard run page on a long run (`bench/dashboard_render.py`)\n\n"
            f"`python bench/dashboard_render.py` - the run page of a synthetic run of "
            f"{info.num_steps:,} steps and {n_scalar} scalar series, served by `create_app` "
            f"and opened {args.repeats} times in headless Chromium, server and browser pinned "
            f"to {cpus} cores. Seconds from navigation start (median), measured in the browser: "
            "first render = run header and alert timeline drawn; a section = its callback "
            "answered and all its figures drawn (a section with no panels for this run only "
            "answers). The same page of a 400-step run with the same series is opened "
            "alternately with it: the ratio is what the run's length adds. The HTML report "
            "of the long run is written once. The machine's "
            f"1-minute load average was {load[0]:.1f} before and {load[1]:.1f} after (other "
            "jobs share it; on an idle machine the times are lower).\n\n"
            + table(
                ["what", "100k-step run (s)", "400-step run (s)", "ratio", "target"],
                [["first render", first, first_short, first / first_short, "<= 2 s"]]
                + [
                    [f"section: {s}", v, short_section[s], v / short_section[s], "<= 5 s"]
                    for s, v in per_section.items()
                ]
                + [["report size (MB)", report_mb, "", "", "<= 10"]],
            )
            + "\n\nThe data behind the sections, read in the server process: every scalar "
            "series downsampled to 600 points, from the writer's 32-step scalar blocks versus "
            "from the raw rows (how runs written before blocks are read), alternating, median "
            "seconds.\n\n"
            + table(
                ["read", "seconds", "ratio raw / blocks"],
                [["scalar blocks", blocks_s, 1.0], ["raw rows", raw_s, raw_s / blocks_s]],
            ),
        )
    print(
        f"dashboard_render: {info.num_steps} steps x {n_scalar} series on {cpus} cores: first "
        f"render {first:.2f} s ({first / first_short:.2f}x a 400-step run), slowest section "
        f"{slowest:.2f} s, report {report_mb:.1f} MB (targets 2 s, 5 s, 10 MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
