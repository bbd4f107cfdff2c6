"""Process-level plumbing of the Monitor: ranks, detectors, closing at exit."""

from __future__ import annotations

import atexit
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from gandiag.detectors.base import Detector
from gandiag.detectors.suite import DetectorSuite


def distributed() -> tuple[int, int, Any]:
    """``(rank, world_size, group)``; ``(0, 1, None)`` outside torch.distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), None
    return 0, 1, None


def resolve_detectors(spec: Any, kind: str) -> DetectorSuite:
    """``"default"`` (the registry's set for ``kind``), ``None``, a list of detectors or a suite."""
    from gandiag.detectors.suite import default_detectors

    if spec is None:
        return DetectorSuite([])
    if isinstance(spec, DetectorSuite):
        return spec
    if isinstance(spec, str):
        if spec != "default":
            raise ValueError(
                f"detectors must be 'default', None or a list of Detector, not {spec!r}"
            )
        return DetectorSuite(default_detectors(kind))
    dets = list(spec)
    for d in dets:
        if not isinstance(d, Detector):
            raise TypeError(f"detectors must be Detector instances, got {type(d).__name__}")
    return DetectorSuite(dets)


def default_set(model_kind: str, signals_kind: str) -> tuple[str, dict[str, bool]]:
    """``(kind of the default set, family detectors added to it)`` for a Monitor's
    ``kind=``. A kind with a set of its own (``"translation"``, ``"video"``, ``"ae"``) is
    that set. The name of a registered reference model (``"cyclegan"``, ``"dvdgan"``,
    ``"stylegan"``) is its kind's set (a translation model's, a video model's) plus the
    family detectors its spec names (StyleGAN's W-space and regulariser watches,
    progressive growing's fade-in), as ``gandiag train`` runs them; a user's loop that
    logs those signals gets them by naming the model. Any other name: the set its
    signals follow."""
    from gandiag.detectors.suite import KINDS

    if model_kind in KINDS:
        return model_kind, {}
    try:
        from gandiag.reference_models import MODELS
    except ImportError:  # pragma: no cover - the registry ships with the package
        return signals_kind, {}
    if model_kind not in MODELS:
        return signals_kind, {}
    spec = MODELS.lookup(model_kind)
    if spec.kind in KINDS and spec.kind != "gan":
        kind = spec.kind
    elif spec.options.get("frames"):  # a video GAN's clips
        kind = "video"
    else:
        kind = signals_kind
    return kind, dict.fromkeys(spec.training.get("detectors", ()), True)


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
