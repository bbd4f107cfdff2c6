"""Shard feature extraction across ``torch.distributed`` ranks.

Rank r takes the contiguous slice ``[r*N//W, (r+1)*N//W)``; the per-rank features are
padded to a common length, all-gathered, and concatenated in rank order, so every rank
ends with the same ``[N, D]`` matrix in the original order. Without an initialised
process group (or with one rank) this is a plain call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def map_sharded(
    items: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], *, device: torch.device
) -> torch.Tensor:
    rank, size = world()
    if size == 1:
        return fn(items)
    n = items.shape[0]
    bounds = [r * n // size for r in range(size + 1)]
    local = fn(items[bounds[rank] : bounds[rank + 1]]) if bounds[rank + 1] > bounds[rank] else None
    return gather_in_order(local, device=device)


def gather_in_order(local: torch.Tensor | None, *, device: torch.device) -> torch.Tensor:
    """Every rank's ``[n_r, D]`` rows (``None``: none), concatenated in rank order on every rank."""
    _, size = world()
    comm = _comm_device(device)
    # Every rank must agree on the row count and feature dimension, even one with no rows.
    shape = torch.tensor(
        [local.shape[0] if local is not None else 0, local.shape[1] if local is not None else -1],
        device=comm,
    )
    shapes = [torch.zeros_like(shape) for _ in range(size)]
    dist.all_gather(shapes, shape)
    counts = [int(t[0]) for t in shapes]
    d = max(int(t[1]) for t in shapes)
    buf = torch.zeros(max(counts), d, device=comm)
    if local is not None:
        buf[: local.shape[0]] = local.to(buf.device)
    gathered = [torch.empty_like(buf) for _ in range(size)]
    dist.all_gather(gathered, buf)
    return torch.cat([g[:c].cpu() for c, g in zip(counts, gathered)])


def _comm_device(device: torch.device) -> torch.device:
    # NCCL needs CUDA tensors; gloo works on the CPU.
    return device if dist.get_backend() == "nccl" else torch.device("cpu")
