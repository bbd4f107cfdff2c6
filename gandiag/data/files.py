"""Readers for real datasets kept in local files: IDX (MNIST, Fashion-MNIST), CIFAR-10
binary, a folder of images, and ``.npz`` arrays.

Nothing is downloaded and nothing is unpickled: IDX and CIFAR-10's binary version are
parsed byte by byte, ``.npz`` files are opened with ``allow_pickle=False`` (CIFAR-10's
*python* version is a pickle, so it is refused with a pointer to the binary one).
Every reader returns uint8 images ``[N, C, H, W]`` and, where the format has them,
int64 labels; a missing or malformed file is an error naming what was expected where.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not, detected from its first bytes)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file (expected magic bytes 00 00 <dtype> <ndim>, got "
            f"{raw[:4].hex(' ')}); MNIST's files are named like train-images-idx3-ubyte[.gz]"
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path} is truncated or malformed: its header says shape {dims} "
            f"({expected} bytes of data) but it holds {len(raw) - header} bytes"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
    )


def load_idx_dataset(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format images ``[N, 1, 28, 28]`` uint8 and labels from ``root``.

    Looks for ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``root``,
    ``root/raw`` and torchvision's ``root/<MNIST|FashionMNIST>/raw``.
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    images = _find(root, f"{prefix}-images-idx3-ubyte")
    labels = _find(root, f"{prefix}-labels-idx1-ubyte")
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"{images} holds shape {x.shape} and {labels} shape {y.shape}; expected images "
            "[N, H, W] and as many labels [N]"
        )
    return x[:, None].astype(np.uint8), y.astype(np.int64)


def _find(root: Path, stem: str) -> Path:
    dirs = [root, root / "raw", root / "MNIST" / "raw", root / "FashionMNIST" / "raw"]
    for d in dirs:
        for name in (stem, stem + ".gz"):
            if (d / name).is_file():
                return d / name
    raise FileNotFoundError(
        f"no {stem}[.gz] under {root} (looked in {', '.join(str(d) for d in dirs)}); put the "
        "IDX files from the MNIST / Fashion-MNIST distribution there"
    )


def load_cifar10_binary(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary version: images ``[N, 3, 32, 32]`` uint8 and labels.

    Reads ``data_batch_1.bin`` .. ``data_batch_5.bin`` (train) or ``test_batch.bin``
    from ``root`` or ``root/cifar-10-batches-bin``; each record is one label byte and
    3,072 pixel bytes (channel-major).
    """
    names = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
    if split not in names:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    folder = next(
        (d for d in (root, root / "cifar-10-batches-bin") if (d / names[split][0]).is_file()), None
    )
    if folder is None:
        hint = ""
        if (root / "cifar-10-batches-py").exists() or (root / "data_batch_1").exists():
            hint = " (found the python/pickle version, which gandiag never unpickles)"
        raise FileNotFoundError(
            f"no CIFAR-10 binary files ({names[split][0]}, ...) in {root} or "
            f"{root / 'cifar-10-batches-bin'}{hint}; use the 'CIFAR-10 binary version' "
            "(cifar-10-binary.tar.gz), extracted"
        )
    xs, ys = [], []
    for name in names[split]:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; CIFAR-10 {split} needs {names[split]}")
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % 3073:
            raise ValueError(
                f"{path} has {raw.size} bytes, not a multiple of 3073 (1 label byte + 3072 "
                "pixel bytes per image); the file is truncated or not CIFAR-10 binary"
            )
        rec = raw.reshape(-1, 3073)
        ys.append(rec[:, 0].astype(np.int64))
        xs.append(rec[:, 1:].reshape(-1, 3, 32, 32))
    labels = np.concatenate(ys)
    if labels.max() > 9:
        raise ValueError(f"labels in {folder} go up to {labels.max()}; CIFAR-10 has 10 classes")
    return np.concatenate(xs), labels


def load_image_folder(
    root: str | Path, image_size: int, channels: int = 3
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Every image under ``root`` (recursively), centre-cropped square and resized.

    When all images sit in first-level subfolders, the subfolder names (sorted) are
    the classes; otherwise labels are ``None``. Returns ``(images, labels, classes)``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    out = np.empty((len(files), channels, image_size, image_size), np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                out[i] = (
                    _square(img.convert(mode), image_size)
                    .reshape(image_size, image_size, channels)
                    .transpose(2, 0, 1)
                )
        except OSError as exc:
            raise ValueError(f"cannot read image {path}: {exc}") from exc
    rel = [p.relative_to(root).parts for p in files]
    if all(len(parts) == 2 for parts in rel):
        classes = sorted({parts[0] for parts in rel})
        index = {c: j for j, c in enumerate(classes)}
        return out, np.array([index[parts[0]] for parts in rel], np.int64), classes
    return out, None, []


def _square(img: Image.Image, size: int) -> np.ndarray:
    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(img.resize((size, size), Image.Resampling.BICUBIC, box=box), np.uint8)


def load_npz(
    path: str | Path, key: str | None = None, labels_key: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The array ``key`` (default: ``images``, ``x``, ``data`` or the only array) and
    optional labels from an ``.npz`` file, opened without unpickling."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f".npz file {path} does not exist")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable .npz archive: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        # A bad file, not a programming error: ValueError so the CLI prints it as one line.
        raise ValueError(  # noqa: TRY004
            f"{path} is a single .npy array, not an .npz archive; save with np.savez"
        )
    try:
        return _read_npz(path, archive, key, labels_key)
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # object arrays would need unpickling
            raise ValueError(
                f"{path} holds object arrays, which need unpickling; gandiag never "
                "unpickles data files: save plain numeric arrays with np.savez"
            ) from exc
        raise
    finally:
        archive.close()


def _read_npz(
    path: Path, archive: np.lib.npyio.NpzFile, key: str | None, labels_key: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    names = list(archive.files)
    if key is None:
        key = next(
            (k for k in ("images", "x", "data") if k in names),
            names[0] if len(names) == 1 else None,
        )
    if key is None or key not in names:
        raise ValueError(f"{path} has arrays {names}; name the data array with the 'key' option")
    data = archive[key]
    labels = None
    if labels_key is None:
        labels_key = next((k for k in ("labels", "y") if k in names), None)
    elif labels_key not in names:
        raise ValueError(f"{path} has no array {labels_key!r}; it has {names}")
    if labels_key is not None:
        labels = archive[labels_key].astype(np.int64)
        if labels.shape != (len(data),):
            raise ValueError(
                f"labels {labels_key!r} in {path} have shape {labels.shape}; expected [{len(data)}]"
            )
    return data, labels
