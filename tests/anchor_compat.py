"""Keep the anchors runnable on today's releases of their own dependencies.

clean-fid 0.1.35 (the latest release) computes the Frechet distance with
``scipy.linalg.sqrtm(..., disp=False)``, which SciPy deprecated in 1.16 and removes in
1.18. On a SciPy without ``disp`` every anchor test against clean-fid would fail for a
reason that is not ours, so :func:`install` gives clean-fid's module a ``linalg`` whose
``sqrtm`` accepts the old call and returns its old form (the root and an error estimate,
which clean-fid discards); everything else clean-fid computes is its own code. Nothing
changes on a SciPy that still has ``disp``.
"""

from __future__ import annotations

import inspect
import types
from typing import Any


def sqrtm_has_disp(sqrtm: Any) -> bool:
    return "disp" in inspect.signature(sqrtm).parameters


def _linalg_with_old_sqrtm(linalg: types.ModuleType) -> types.SimpleNamespace:
    def sqrtm(a: Any, disp: bool = True, **kwargs: Any) -> Any:
        root = linalg.sqrtm(a, **kwargs)
        return root if disp else (root, float("nan"))

    ns = types.SimpleNamespace(**{k: getattr(linalg, k) for k in dir(linalg) if k[0] != "_"})
    ns.sqrtm = sqrtm
    return ns


def install() -> bool:
    """Patch clean-fid's ``linalg`` where SciPy's ``sqrtm`` lost ``disp``; True if patched."""
    try:
        import cleanfid.fid as cleanfid_fid
    except ImportError:  # the anchor is a test dependency; without it its tests skip
        return False
    linalg = cleanfid_fid.linalg
    if not isinstance(linalg, types.ModuleType) or sqrtm_has_disp(linalg.sqrtm):
        return False
    cleanfid_fid.linalg = _linalg_with_old_sqrtm(linalg)
    return True
