"""Counting host reads of tensors (``float(t)``, ``t.item()``, ``t.tolist()``, ...).

On a GPU each such read waits for the device to finish (a host sync) and stalls the
launch queue of a small model's step; on the CPU the tests count them instead. Reads from
torch.optim are not counted: Adam's step count is a CPU tensor (no device read) unless the
optimiser is ``capturable``.
"""

from __future__ import annotations

import contextlib
import sys

import pytest
import torch

READS = ("__float__", "__int__", "__bool__", "item", "tolist")


@contextlib.contextmanager
def counted_reads(monkeypatch: pytest.MonkeyPatch):
    seen: list[str] = []
    for name in READS:
        real = getattr(torch.Tensor, name)

        def counting(self, *a, _real=real, _name=name, **kw):
            caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
            if "/torch/optim/" not in caller:  # Adam's step count lives on the CPU
                seen.append(f"{_name} from {caller}:{sys._getframe(1).f_lineno}")
            return _real(self, *a, **kw)

        monkeypatch.setattr(torch.Tensor, name, counting)
    try:
        yield seen
    finally:
        monkeypatch.undo()
