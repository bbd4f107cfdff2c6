"""Process-level plumbing of the Monitor: ranks, detectors, closing at exit."""

from __future__ import annotations

import atexit
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from gandiag.detectors.base import Detector


def distributed() -> tuple[int, int, Any]:
    """``(rank, world_size, group)``; ``(0, 1, None)`` outside torch.distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), None
    return 0, 1, None


def resolve_detectors(spec: Any, kind: str) -> list[Detector]:
    """``"default"`` (the registry's set for ``kind``), ``None`` or a list of detectors."""
    if spec is None:
        return []
    if isinstance(spec, str):
        if spec != "default":
            raise ValueError(
                f"detectors must be 'default', None or a list of Detector, not {spec!r}"
            )
        from gandiag.detectors import default_detectors

        return list(default_detectors(kind))
    dets = list(spec)
    for d in dets:
        if not isinstance(d, Detector):
            raise TypeError(f"detectors must be Detector instances, got {type(d).__name__}")
    return dets


def close_at_exit(mon: Any) -> Callable[[], None]:
    """Close ``mon`` at interpreter exit if the caller forgot (holding only a weak reference)."""
    ref = weakref.ref(mon)

    def _close() -> None:
        m = ref()
        if m is not None and not m.closed:
            warnings.warn(
                "gandiag Monitor was not closed; closing it at exit (call mon.close())",
                stacklevel=1,
            )
            m.close()

    atexit.register(_close)
    return _close
