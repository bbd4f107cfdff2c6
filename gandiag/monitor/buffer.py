"""Device-side buffer of step statistics: one host copy (and one all-reduce) per flush.

Following stylegan2-ada-pytorch's ``training_stats``, every statistic is kept as a
tensor of *sums* on the training device (a sum, a sum of squares, bin counts, ...),
and numbers the host already knows (a batch's element count) as *constants* beside
them. Sums and constants reduce across ranks by one plain SUM all-reduce in float64, so
one collective per flush serves every signal; the division into means, ratios and
standard deviations happens on the host afterwards, in a *finaliser* that turns the
reduced constants and sums of one entry into named scalars or histograms.

A step's sums may stay in float32 (the precision they were summed in): the flush
concatenates the float32 parts of all its steps and casts them to float64 once, so a step
pays for no per-statistic conversion and no device-side constant, which on a GPU are
kernel launches (docs/benchmarks.md, "Operations the Monitor adds per step").

Histograms of raw critic values need a bin range shared by all ranks before any
counting, so their samples are kept until the flush, a MAX all-reduce of the
ranges runs first (merged with a check that every rank buffered the same entries),
and only then are the counts taken and added to the sum vector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gandiag.types import Histogram

Finaliser = Callable[[np.ndarray, int], Mapping[str, "float | Histogram"]]


@dataclass
class _Entry:
    step: int
    size: int
    finalise: Finaliser
    wide: bool  # float64 sums (else float32)
    consts: tuple[float, ...] = ()
    pos: int = 0  # where its sums start in the flushed vector (set by the flush)
    const_pos: int = 0  # where its constants start


@dataclass
class _HistEntry:
    step: int
    name: str
    values: torch.Tensor  # flattened samples, float32, on the device
    fixed_range: tuple[float, float] | None
    range_values: torch.Tensor  # the samples whose min/max set the range


class HostBatch:
    """The host copy of one flush: the reduced sums and how to turn them into records."""

    def __init__(
        self,
        host: torch.Tensor,
        event: Any,
        entries: list[_Entry],
        hist_names: list[tuple[int, str]],
        hist_bins: int,
        world: int,
        hist_start: int = 0,
    ) -> None:
        self._host = host
        self._hist_start = hist_start  # where the histograms' ranges and counts begin
        self._event = event
        self._entries = entries
        self._hist_names = hist_names
        self._hist_bins = hist_bins
        self.world = world

    def values(self) -> dict[int, dict[str, Any]]:
        """Per step, the finalised scalars and histograms (waits for the device copy)."""
        if self._event is not None:
            self._event.synchronize()
        vec = self._host.numpy()
        out: dict[int, dict[str, Any]] = {}
        for e in self._entries:
            sums = vec[e.pos : e.pos + e.size]
            # the finaliser sees the entry's constants first, then its sums
            chunk = np.concatenate([vec[e.const_pos : e.const_pos + len(e.consts)], sums])
            out.setdefault(e.step, {}).update(e.finalise(chunk, self.world))
        pos = self._hist_start
        nb = self._hist_bins
        for step, name in self._hist_names:
            lo, hi = float(vec[pos]) / self.world, float(vec[pos + 1]) / self.world
            counts = vec[pos + 2 : pos + 2 + nb]
            pos += 2 + nb
            if not (math.isfinite(lo) and math.isfinite(hi)):
                lo, hi = 0.0, 1.0  # no finite value anywhere: all counts are zero
            out.setdefault(step, {})[name] = Histogram(
                lo, hi, tuple(int(c) for c in np.rint(counts))
            )
        return out


class StatBuffer:
    """Collects per-step statistics as device tensors until :meth:`flush`."""

    def __init__(self, device: torch.device, hist_bins: int = 20) -> None:
        self.device = device
        self.hist_bins = int(hist_bins)
        self._parts: list[torch.Tensor] = []
        self._entries: list[_Entry] = []
        self._hists: list[_HistEntry] = []

    def __len__(self) -> int:
        return len(self._entries) + len(self._hists)

    def add(
        self,
        step: int,
        sums: torch.Tensor,
        finalise: Finaliser,
        consts: tuple[float, ...] = (),
    ) -> None:
        """Buffer ``sums`` (any shape; flattened; float64 or float32, other dtypes are kept
        as float32) and the host numbers ``consts``, to be reduced and handed to
        ``finalise`` as one vector: the constants, then the sums."""
        flat = sums.detach().reshape(-1)
        wide = flat.dtype == torch.float64
        if not wide and flat.dtype != torch.float32:
            flat = flat.float()
        self._parts.append(flat)
        entry = _Entry(int(step), int(flat.numel()), finalise, wide, tuple(map(float, consts)))
        self._entries.append(entry)

    def add_histogram(
        self,
        step: int,
        name: str,
        values: torch.Tensor,
        fixed_range: tuple[float, float] | None = None,
        range_of: torch.Tensor | None = None,
    ) -> None:
        """Buffer samples for a histogram.

        The bins span ``fixed_range``, or else the min/max over all ranks of the finite
        values of ``range_of`` (default ``values``); pass the same ``range_of`` to two
        histograms that a figure overlays.
        """
        flat = values.detach().reshape(-1).float()
        rv = flat if range_of is None else range_of.detach().reshape(-1).float()
        self._hists.append(_HistEntry(int(step), name, flat, fixed_range, rv))

    def flush(self, group: Any = None, world: int = 1) -> HostBatch | None:
        """Reduce everything buffered (across ranks when ``world > 1``) and start the host copy.

        Returns ``None`` when nothing is buffered. The returned batch's ``values()``
        waits for the copy, so a CUDA training thread never blocks here.
        """
        if not self._entries and not self._hists:
            return None
        hist_names = [(h.step, h.name) for h in self._hists]
        ranges = self._hist_ranges()  # [n, -n, -lo_0, hi_0, -lo_1, hi_1, ...]
        if world > 1:
            import torch.distributed as dist

            # One MAX all-reduce both shares the histogram ranges and checks that every
            # rank buffered the same entries (else the SUM below would mix signals).
            dist.all_reduce(ranges, op=dist.ReduceOp.MAX, group=group)
            if float(ranges[0]) != -float(ranges[1]):
                raise RuntimeError(
                    "gandiag Monitor: ranks buffered different signals in this flush (e.g. "
                    "d_val passed on some ranks only); pass the same arguments to mon.step "
                    "on every rank"
                )
        parts = self._sums_and_consts()
        hist_start = sum(p.numel() for p in parts)
        nb = self.hist_bins
        for i, h in enumerate(self._hists):
            lo, hi = -ranges[2 + 2 * i], ranges[3 + 2 * i]
            parts.append(torch.stack([lo, hi]).to(torch.float64))
            parts.append(_bin_counts(h.values, lo, hi, nb))
        vec = torch.cat(parts)
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(vec, op=dist.ReduceOp.SUM, group=group)
        host, event = _to_host_async(vec)
        batch = HostBatch(host, event, self._entries, hist_names, nb, world, hist_start)
        self._parts, self._entries, self._hists = [], [], []
        return batch

    def _sums_and_consts(self) -> list[torch.Tensor]:
        """The buffered float32 sums (cast to float64 once), the float64 sums, then every
        entry's constants (one host-to-device copy), as float64 parts; sets each entry's
        positions in the vector they make."""
        narrow = [p.to(self.device) for p, e in zip(self._parts, self._entries) if not e.wide]
        wide = [p.to(self.device) for p, e in zip(self._parts, self._entries) if e.wide]
        n_narrow = sum(p.numel() for p in narrow)
        n_sums = n_narrow + sum(p.numel() for p in wide)
        pos = {False: 0, True: n_narrow}
        const_pos = n_sums
        consts: list[float] = []
        for e in self._entries:
            e.pos = pos[e.wide]
            pos[e.wide] += e.size
            e.const_pos = const_pos
            const_pos += len(e.consts)
            consts.extend(e.consts)
        parts = []
        if narrow:
            parts.append(torch.cat(narrow).to(torch.float64))
        if wide:
            parts.append(torch.cat(wide))
        if consts:
            parts.append(torch.tensor(consts, dtype=torch.float64, device=self.device))
        return parts

    def _hist_ranges(self) -> torch.Tensor:
        """``[n, -n, -lo_0, hi_0, ...]`` as float64 on the device, ready for a MAX all-reduce."""
        n = float(sum(e.size for e in self._entries) * 4099 + len(self._hists))
        items = [torch.tensor([n, -n], dtype=torch.float64, device=self.device)]
        for h in self._hists:
            if h.fixed_range is not None:
                lo, top = h.fixed_range
                items.append(torch.tensor([-lo, top], dtype=torch.float64, device=self.device))
                continue
            x = h.range_values.to(self.device)
            finite = torch.isfinite(x)
            if x.numel() == 0:
                x, finite = (
                    torch.zeros(1, device=self.device),
                    torch.zeros(1, dtype=torch.bool, device=self.device),
                )
            neg_lo = torch.where(finite, -x, torch.full_like(x, -math.inf)).max()
            hi = torch.where(finite, x, torch.full_like(x, -math.inf)).max()
            # A constant output (all values equal) gets a unit-wide range around it.
            pad = (hi + neg_lo == 0).to(x.dtype) * 0.5
            items.append(torch.stack([neg_lo + pad, hi + pad]).to(torch.float64))
        return torch.cat(items)


def _bin_counts(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Counts of the finite values of ``x`` in ``bins`` equal bins over ``[lo, hi]`` (no sync)."""
    x = x.to(lo.device)
    finite = torch.isfinite(x)
    width = (hi - lo).clamp_min(1e-12)
    pos = torch.where(finite, (x - lo) / width * bins, torch.zeros_like(x))
    idx = pos.floor().clamp(0, bins - 1).long()
    counts = torch.zeros(bins, dtype=torch.float64, device=lo.device)
    return counts.scatter_add_(0, idx, finite.to(torch.float64))


def _to_host_async(vec: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """Copy ``vec`` to host memory; on CUDA without blocking the training thread."""
    if vec.device.type != "cuda":
        return vec.cpu(), None
    host = torch.empty(vec.shape, dtype=vec.dtype, pin_memory=True)
    host.copy_(vec, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    return host, event
