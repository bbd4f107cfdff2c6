"""Stream images to a feature extractor in batches, so memory is bounded by the batch.

:func:`stream_features` reads arrays (a ``.npy`` file batch by batch from disk), image folders
(decoded by a ``DataLoader`` with worker processes) and generator callables batch by
batch, runs the extractor on each batch, and keeps only the features (and logits, for
the Inception Score, from the same pass). A generator's samples are never all held.
While the network runs on one batch, a thread (:class:`Prefetched`) reads the next and
prepares it (for Inception, the clean resize on parallel threads), so loading and
resizing overlap the forward pass instead of taking turns with it.

The numbers are those of extracting the whole set at once: the same subsample
(``rng.choice`` over the set, sorted), the same batches (the extractor's
``batch_size``, starting at 0), the same generator calls (``generator_batch_size``).
Under ``torch.distributed`` each rank reads, or generates, a contiguous shard and the
features are gathered back in order (a generator's batches are split across ranks;
a callable with ``skip(n)``, such as :func:`gandiag.evaluate.sample_callable`, then
produces exactly the single-process samples).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gandiag.features import FeatureExtractor
from gandiag.features import distributed as dist_util

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


# -- sources ------------------------------------------------------------------------------
class ArraySource:
    """A tensor or array (a memory-mapped ``.npy`` stays on disk) read by index."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.n = int(data.shape[0])

    def batches(self, index: np.ndarray, batch: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(index), batch):
            idx = index[start : start + batch]
            if isinstance(self.data, torch.Tensor):
                yield self.data[torch.from_numpy(idx)]
            else:
                yield as_nchw(np.asarray(self.data[idx]))


class NpySource:
    """A ``.npy`` file read batch by batch with plain reads: unlike a memory map, pages read
    once do not stay in the process's resident set."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject or not shape:
            raise ValueError(
                f"{path} is not a C-ordered numeric image array; save it with "
                "np.save(path, np.ascontiguousarray(images))"
            )
        self.shape, self.dtype = tuple(shape), dtype
        self.n = int(shape[0])
        self.row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def batches(self, index: np.ndarray, batch: int) -> Iterator[torch.Tensor]:
        with self.path.open("rb", buffering=0) as f:
            for start in range(0, len(index), batch):
                idx = index[start : start + batch]
                out = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
                flat = out.reshape(len(idx), -1).view(np.uint8)
                # consecutive indices are read in one call
                breaks = np.flatnonzero(np.diff(idx) != 1) + 1
                for run in np.split(np.arange(len(idx)), breaks):
                    f.seek(self.offset + int(idx[run[0]]) * self.row)
                    f.readinto(memoryview(flat[run[0] : run[-1] + 1]).cast("B"))
                yield as_nchw(out)


class _Files(torch.utils.data.Dataset):
    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:
        from PIL import Image

        with Image.open(self.files[i]) as im:
            gray = im.mode in ("1", "L", "I", "I;16", "F")
            return np.asarray(im.convert("L") if gray else im.convert("RGB"))


def _stack(items: list[np.ndarray]) -> np.ndarray:
    shapes = {a.shape for a in items}
    if len(shapes) != 1:
        raise ValueError(
            f"images in the folder have different sizes {sorted(shapes)[:3]}; resize them to one "
            "size"
        )
    return np.stack(items)


class FolderSource:
    """Image files (sorted, recursive), decoded by a DataLoader with ``workers`` processes."""

    def __init__(self, root: Path, workers: int | None = None) -> None:
        self.root = root
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.files:
            raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {root}")
        self.n = len(self.files)
        self.workers = default_workers() if workers is None else int(workers)
        self._shape: tuple[int, ...] | None = None

    def batches(self, index: np.ndarray, batch: int) -> Iterator[torch.Tensor]:
        sampler = [index[s : s + batch].tolist() for s in range(0, len(index), batch)]
        loader = torch.utils.data.DataLoader(
            _Files(self.files),
            batch_sampler=sampler,
            num_workers=self.workers if len(sampler) > 1 else 0,
            collate_fn=_stack,
            prefetch_factor=2 if self.workers and len(sampler) > 1 else None,
            persistent_workers=False,
        )
        for arr in loader:
            if self._shape is None:
                self._shape = arr.shape[1:]
            elif arr.shape[1:] != self._shape:
                raise ValueError(
                    f"images under {self.root} have different sizes {[self._shape, arr.shape[1:]]}; "
                    "resize them to one size"
                )
            yield as_nchw(arr)


def default_workers() -> int:
    """DataLoader workers for decoding: the CPUs this process may use, at most 8, minus one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    return max(0, min(8, cpus) - 1)


def open_source(source: Any, workers: int | None = None) -> ArraySource | NpySource | FolderSource:
    """An in-memory or on-disk image set, without reading its pixels yet."""
    if isinstance(source, (torch.Tensor, np.ndarray)):
        return ArraySource(source)
    path = Path(source)
    if path.is_dir():
        return FolderSource(path, workers)
    if path.suffix == ".npy":
        return NpySource(path)
    if path.suffix == ".npz":  # compressed members cannot be memory-mapped
        with np.load(path) as z:
            key = next((k for k in ("images", "x", "arr_0") if k in z.files), None)
            if key is None:
                raise ValueError(
                    f"{path} has arrays {z.files}; store the images under 'images' (or 'x', 'arr_0')"
                )
            return ArraySource(z[key])
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; pass an image folder, a .npy/.npz file, or an array"
        )
    raise ValueError(f"cannot read images from {path}; pass an image folder, a .npy or .npz file")


def as_nchw(arr: np.ndarray) -> torch.Tensor:
    """``[N, H, W]`` -> ``[N, 1, H, W]``; NHWC (last axis 1 or 3, second not) -> NCHW."""
    arr = np.array(arr, copy=True)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def subsample(n: int, num_samples: int | None, rng: np.random.Generator, name: str) -> np.ndarray:
    """Indices of the evaluated images: all, or ``num_samples`` drawn without replacement."""
    if num_samples is None or num_samples == n:
        return np.arange(n)
    if num_samples > n:
        raise ValueError(
            f"num_samples={num_samples} but the {name} set has only {n} images; "
            "pass fewer or add images (samples are never drawn twice)"
        )
    return np.sort(rng.choice(n, num_samples, replace=False))


def generated(fn: Callable[[int], Any], num_samples: int, batch: int) -> Iterator[torch.Tensor]:
    """``num_samples`` images from ``fn(n)``, called with ``batch`` at a time; under
    ``torch.distributed`` only this rank's contiguous share of the calls."""
    sizes = [min(batch, num_samples - s) for s in range(0, num_samples, batch)]
    rank, world = dist_util.world()
    lo, hi = rank * len(sizes) // world, (rank + 1) * len(sizes) // world
    if lo and hasattr(fn, "skip"):
        for size in sizes[:lo]:
            fn.skip(size)
    mine = sizes[lo:hi]
    check = world > 1 and not hasattr(fn, "skip")
    if check and not mine:  # a rank without batches still joins the collective
        _check_distinct_across_ranks(None)
    have = 0
    with torch.no_grad():
        for i, size in enumerate(mine):
            out = fn(size)
            out = out.detach().cpu() if isinstance(out, torch.Tensor) else as_nchw(np.asarray(out))
            if out.ndim == 3:
                out = out.unsqueeze(1)
            out = out[: sum(mine) - have]  # a callable that returns more than asked is cut
            have += out.shape[0]
            if check and i == 0:
                _check_distinct_across_ranks(out)
            yield out


def _check_distinct_across_ranks(first: torch.Tensor | None) -> None:
    """Ranks that share a seed generate the same samples: refuse rather than count them twice."""
    import torch.distributed as dist

    if first is None:
        value = -1 - dist.get_rank()  # distinct from every digest and every other rank
    else:
        raw = first.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        value = int(hashlib.sha256(raw).hexdigest()[:15], 16)
    mine = torch.tensor([value], dtype=torch.int64)
    comm = (
        torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    )
    mine = mine.to(comm) if comm is not None else mine
    every = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    if len({int(t) for t in every}) < len(every):
        raise ValueError(
            "the generator callable produced the same first batch on several ranks (they share "
            "a seed), so those samples would count twice; seed each rank differently (e.g. "
            "torch.manual_seed(seed + rank)) or pass gandiag.evaluate.sample_callable(G, "
            "latent_dim, seed=...), which splits one seeded stream across ranks"
        )


# -- extraction ---------------------------------------------------------------------------
@dataclass
class Extracted:
    """Features (and logits where asked) of one image set, in the set's order."""

    features: np.ndarray | None
    logits: np.ndarray | None
    num: int
    content_sha256: str | None = None  # the cache key, when asked for


def stream_features(
    source: Any,
    extractor: FeatureExtractor,
    *,
    num_samples: int | None,
    rng: np.random.Generator,
    name: str,
    features: bool = True,
    logits: bool = False,
    generator_batch_size: int = 500,
    workers: int | None = None,
    progress: bool | None = None,
    content_key: bool = False,
    prefetch: bool = True,
) -> Extracted:
    """Extract ``source`` batch by batch; see the module docstring. ``prefetch`` reads and
    prepares (resizes) the next batch in a thread while the network runs on the current one;
    the numbers are the same either way."""
    rank, world = dist_util.world()
    if callable(source) and not isinstance(source, (torch.Tensor, np.ndarray)):
        if num_samples is None:
            raise ValueError(f"{name} is a generator callable: pass num_samples (how many to draw)")
        total = int(num_samples)
        chunks = _rebatch(generated(source, total, generator_batch_size), extractor.batch_size)
    else:
        src = open_source(source, workers)
        index = subsample(src.n, num_samples, rng, name)
        total = len(index)
        if world > 1:
            index = index[rank * total // world : (rank + 1) * total // world]
        chunks = src.batches(index, extractor.batch_size)
    if not (features or logits or content_key):
        return Extracted(None, None, total)  # only the count (and the rng draw) was needed
    hasher = _ContentHasher(extractor, total) if content_key else None
    forward = features or logits

    def prepared() -> Iterator[tuple[int, torch.Tensor | None]]:
        # Reading, checking, hashing and resizing, in order; the network input or None.
        for images in chunks:
            images = extractor.check_images(images)
            if hasher is not None:
                hasher.update(images)
            x = extractor.to_input(images.to(extractor.device)) if forward else None
            yield images.shape[0], x

    feats: list[torch.Tensor] = []
    logs: list[torch.Tensor] = []
    bar = _progress(total // world if world > 1 else total, name, progress)
    # The next batch is read and resized in a thread while the network runs on this one.
    batches = Prefetched(prepared()) if forward and prefetch else prepared()
    try:
        with torch.no_grad():
            for count, x in batches:
                if x is not None:
                    if features:
                        feats.append(extractor._features(x).reshape(x.shape[0], -1).float().cpu())
                    if logits:
                        logs.append(extractor._logits(x).reshape(x.shape[0], -1).float().cpu())
                    del x
                    _trim()
                bar.update(count)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
        bar.close()
    out_f = _gather(feats, extractor.device) if features else None
    out_l = _gather(logs, extractor.device) if logits else None
    num = next((a.shape[0] for a in (out_f, out_l) if a is not None), total)
    if num < 2 and (features or logits):
        raise ValueError(f"no images to extract features from in the {name} set; pass at least 2")
    return Extracted(out_f, out_l, num, hasher.hexdigest() if hasher is not None else None)


class Prefetched:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the consumer.

    Exceptions raised while producing are re-raised, in order, by the consumer; ``close``
    (or leaving the consumer's loop through ``finally``) stops the thread and closes
    ``items``. The producer runs under ``no_grad`` (grad mode is per thread). Preparing a
    batch (file decoding, PIL resizing, numpy) mostly releases the GIL, as does the
    network's forward pass, so the two overlap.
    """

    _END = object()

    def __init__(self, items: Iterator[Any], depth: int = 1) -> None:
        import queue
        import threading

        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gandiag-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with torch.no_grad():
                for item in self._items:
                    if not self._put((item, None)):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put((None, exc))
            return
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()
        self._put((self._END, None))

    def _put(self, entry: tuple[Any, BaseException | None]) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Prefetched:
        return self

    def __next__(self) -> Any:
        if self._stop.is_set():
            raise StopIteration
        item, exc = self._queue.get()
        if exc is not None:
            self.close()
            raise exc
        if item is self._END:
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop producing and wait for the thread (it finishes the item it is preparing)."""
        self._stop.set()
        self._thread.join()


def _rebatch(chunks: Iterator[torch.Tensor], batch: int) -> Iterator[torch.Tensor]:
    """Regroup a stream of tensors into batches of ``batch`` rows (the last may be short)."""
    pending: list[torch.Tensor] = []
    have = 0
    for c in chunks:
        pending.append(c)
        have += c.shape[0]
        while have >= batch:
            cat = torch.cat(pending) if len(pending) > 1 else pending[0]
            yield cat[:batch]
            rest = cat[batch:]
            pending, have = ([rest] if rest.shape[0] else []), rest.shape[0]
    if have:
        yield torch.cat(pending)


def _gather(parts: list[torch.Tensor], device: torch.device) -> np.ndarray:
    local = torch.cat(parts) if parts else None
    _, world = dist_util.world()
    if world == 1:
        if local is None:
            raise ValueError("no images to extract features from; pass at least 2")
        return local.numpy()
    return dist_util.gather_in_order(local, device=device).numpy()


class _ContentHasher:
    """The cache key of :func:`gandiag.features.cache.content_key`, computed batch by batch."""

    def __init__(self, extractor: FeatureExtractor, total: int) -> None:
        self.extractor, self.total = extractor, total
        self._h: Any = None

    def update(self, images: torch.Tensor) -> None:
        t = images.detach().cpu().contiguous()
        if self._h is None:
            self._h = hashlib.sha256()
            self._h.update(f"{t.dtype}:{(self.total, *t.shape[1:])}".encode())
        self._h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())

    def hexdigest(self) -> str:
        self._h.update(json.dumps(self.extractor.protocol(), sort_keys=True).encode())
        return str(self._h.hexdigest())


def _libc_trim() -> Callable[[], Any]:
    """glibc's ``malloc_trim(0)``, or a no-op elsewhere.

    Each batch allocates and frees buffers of a few MB (decoded images, float input,
    activations). glibc raises its mmap threshold after such frees, so later buffers come
    from the heap, whose free pieces it does not hand back: measured, RSS grew with N to
    +2.3 GB at N=50,000 (64x64 RGB) without trimming and stayed at tens of MB with it.
    """
    if not sys.platform.startswith("linux"):
        return lambda: None
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and other libcs: nothing to trim
        return lambda: None
    return lambda: trim(0)


_trim = _libc_trim()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, name: str, enabled: bool | None) -> Any:
    """A tqdm bar on stderr when it is a terminal (``enabled=None``), else nothing."""
    if enabled is None:
        enabled = sys.stderr.isatty() and dist_util.world()[0] == 0
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{name} features", unit="img", leave=False)


def cached_reference(
    source: Any,
    extractor: FeatureExtractor,
    root: str | os.PathLike[str] | None,
    **stream_kwargs: Any,
) -> Any:
    """:func:`gandiag.features.cache.cached_reference` for a streamed set: one pass computes
    the cache key (the same key as for the whole set in memory); on a miss a second pass
    extracts and stores the features."""
    import copy

    from gandiag.features.cache import cache_dir, load_reference, store_reference

    # The hashing pass draws the subsample from the caller's rng (advancing it exactly as
    # one pass would); a miss re-draws the same subsample from a copy taken before it.
    again = dict(stream_kwargs, rng=copy.deepcopy(stream_kwargs["rng"]))
    key = stream_features(
        source, extractor, features=False, content_key=True, **stream_kwargs
    ).content_sha256
    path = cache_dir(root) / "stats" / f"{key}.npz"
    hit = load_reference(path, key)
    if hit is not None:
        return hit
    feats = stream_features(source, extractor, **again).features
    return store_reference(path, key, feats, write=dist_util.world()[0] == 0)
