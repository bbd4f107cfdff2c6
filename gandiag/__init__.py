"""gandiag: detect GAN and VAE training failures as they happen, and score sample quality.

The heavy parts (torch, dash) are imported lazily, so ``import gandiag`` is cheap and
the store, the detectors and the figures work without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names type checkers see; at run time __getattr__ imports them on use
    from gandiag.monitor import Monitor
    from gandiag.store import RunReader, RunWriter
    from gandiag.types import Alert, MetricResult, Severity, StepRecord

__version__ = "0.1.0"

_LAZY = {
    "Monitor": ("gandiag.monitor", "Monitor"),
    "RunWriter": ("gandiag.store", "RunWriter"),
    "RunReader": ("gandiag.store", "RunReader"),
    "StepRecord": ("gandiag.types", "StepRecord"),
    "Alert": ("gandiag.types", "Alert"),
    "MetricResult": ("gandiag.types", "MetricResult"),
    "Severity": ("gandiag.types", "Severity"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'gandiag' has no attribute {name!r}")


# a literal, so linters and type checkers see the exports (tests/test_typing.py keeps it
# equal to _LAZY)
__all__ = ["Alert", "MetricResult", "Monitor", "RunReader", "RunWriter", "Severity", "StepRecord"]
