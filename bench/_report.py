"""Shared plumbing for the benchmarks: JSON output and their section of docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md, between
``<!-- BEGIN <name> -->`` and ``<!-- END <name> -->``; re-running it replaces only that.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import time
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script it names (`python bench/<script>.py --json PATH`).\n"
    "Comparisons are ratios of the two contenders timed side by side, alternating, in one run.\n"
)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def write_json(path: str | os.PathLike[str] | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    payload = {"machine": machine(), **payload}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")


def write_section(name: str, markdown: str, docs: Path = DOCS) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``markdown``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    text = docs.read_text() if docs.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def confirmed_at(start: int, every: int, count: int) -> int:
    """The step of the ``count``-th check of a cadence of ``every`` steps counted from the
    first check at or after ``start``: the earliest step at which a detector that needs
    ``count`` checks in a row can alert on a condition present from ``start`` on."""
    first = -(-int(start) // int(every)) * int(every)
    return first + (max(int(count), 1) - 1) * int(every)


def no_alarm_bound_per_1k(steps: int) -> float:
    """The one-sided 95% upper bound on a false-alarm rate (per 1,000 steps) when ``steps``
    steps raised no alarm: Poisson, rate < -ln(0.05) / n."""
    return 1000.0 * -math.log(0.05) / steps
