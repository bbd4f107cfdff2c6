"""Inception-v3 pool3 features from NVIDIA's TorchScript file, with clean-fid's resizing.

The file is ``inception-2015-12-05.pt`` (a direct translation of the 2015 TensorFlow
graph), published at :data:`INCEPTION_URL`. gandiag never downloads it: pass its path
(``path=`` / ``--inception-weights``) or set ``GANDIAG_INCEPTION_WEIGHTS``. Its SHA-256 is
checked on every load against :data:`INCEPTION_SHA256`, the checksum of NVIDIA's file
(the same value k-diffusion and other evaluation code pin), and recorded in the protocol.
A deliberately different TorchScript Inception is accepted only with its own checksum
(``sha256=`` / ``--inception-sha256`` / ``GANDIAG_INCEPTION_SHA256``). Preprocessing
follows clean-fid's "clean" mode: images as 0..255 floats, each channel resized to
299x299 with PIL's bicubic filter in float mode (no re-quantisation after resizing), then
``(x - 128) / 128`` inside the network wrapper.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gandiag.features.base import FeatureExtractor, register_extractor
from gandiag.features.glyph import sha256_file

INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
# SHA-256 and size of inception-2015-12-05.pt as served at INCEPTION_URL.
INCEPTION_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"
INCEPTION_BYTES = 95_607_719
ENV_WEIGHTS = "GANDIAG_INCEPTION_WEIGHTS"
ENV_SHA256 = "GANDIAG_INCEPTION_SHA256"
SIZE = 299


def resolve_weights(path: str | os.PathLike[str] | None) -> Path:
    """The weights path from the argument or the environment; a clear error if absent."""
    raw = path if path is not None else os.environ.get(ENV_WEIGHTS)
    if not raw:
        raise FileNotFoundError(
            "the Inception extractor needs NVIDIA's TorchScript weights inception-2015-12-05.pt "
            f"(~92 MB), which gandiag never downloads: get it from {INCEPTION_URL} on a machine "
            f"with network access, then pass --inception-weights PATH or set {ENV_WEIGHTS}=PATH"
        )
    p = Path(raw).expanduser()
    if p.is_dir():
        p = p / "inception-2015-12-05.pt"
    if not p.is_file():
        raise FileNotFoundError(
            f"Inception weights not found at {p}; download {INCEPTION_URL} there, or point "
            f"--inception-weights / {ENV_WEIGHTS} at the file"
        )
    return p


def verify_sha256(path: Path, expected: str | None = None) -> str:
    """The file's SHA-256; ``ValueError`` unless it equals ``expected`` (default: the
    official file's :data:`INCEPTION_SHA256`)."""
    digest = sha256_file(path)
    want = (expected or INCEPTION_SHA256).strip().lower()
    if digest == want:
        return digest
    if want == INCEPTION_SHA256:
        raise ValueError(
            f"Inception weights {path} ({path.stat().st_size:,} bytes) have SHA-256 {digest}, "
            f"not that of NVIDIA's inception-2015-12-05.pt ({INCEPTION_SHA256}, "
            f"{INCEPTION_BYTES:,} bytes): the file is truncated, corrupt or another model. "
            f"Download it again from {INCEPTION_URL}; to use a different TorchScript Inception "
            f"on purpose, pass its checksum with --inception-sha256 / {ENV_SHA256}"
        )
    raise ValueError(
        f"Inception weights {path} have SHA-256 {digest}, expected {want}; the file is "
        f"corrupt or a different model: download it again from {INCEPTION_URL}"
    )


def clean_resize(
    images: torch.Tensor, size: int = SIZE, threads: int | None = None
) -> torch.Tensor:
    """clean-fid's "clean" resize: ``[N, C, H, W]`` floats in 0..255, each channel resized
    with PIL bicubic in float ("F") mode, clipped to 0..255, no quantisation afterwards.

    The images are resized by ``threads`` threads (default: the CPUs this process may use,
    at most 8): PIL releases the GIL while it resamples, so they run in parallel. Each
    channel goes through the same PIL call as clean-fid's ``make_resizer("PIL", False,
    "bicubic", (299, 299))``, so the numbers are identical to clean-fid's (tested), not
    merely close; see docs/metrics.md for why this is not clean-fid's function itself.
    """
    arr = images.detach().cpu().numpy().astype(np.float32, copy=False)
    out = np.empty((arr.shape[0], arr.shape[1], size, size), dtype=np.float32)

    def one(i: int) -> None:
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c], mode="F").resize(
                (size, size), Image.Resampling.BICUBIC
            )
            np.clip(np.asarray(img), 0, 255, out=out[i, c])

    workers = min(arr.shape[0], _resize_threads() if threads is None else max(1, threads))
    if workers <= 1:
        for i in range(arr.shape[0]):
            one(i)
    else:
        list(_resize_pool(workers).map(one, range(arr.shape[0])))
    return torch.from_numpy(out)


def _resize_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _resize_pool(workers: int) -> ThreadPoolExecutor:
    """One pool per size, made on first use and kept (threads are idle between batches)."""
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="clean-resize")
    return pool


class InceptionExtractor(FeatureExtractor):
    """2048-d pool3 features (and class log-probabilities for IS) of Inception-v3."""

    name = "inception"
    channels = (1, 3)
    batch_size = 64
    has_logits = True

    def __init__(
        self,
        device: str | torch.device | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        sha256: str | None = None,
        input_range: tuple[float, float] = (-1.0, 1.0),
        quantize: bool = True,
    ) -> None:
        super().__init__(device)
        weights = resolve_weights(path)
        self.weights_sha256 = verify_sha256(weights, sha256 or os.environ.get(ENV_SHA256))
        with warnings.catch_warnings():
            # The published file is TorchScript and there is no other form of it: torch's
            # advice to move to torch.export does not apply to a file we only load.
            warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", FutureWarning)
            self.net = torch.jit.load(str(weights), map_location=self.device).eval()
        self.input_range = input_range
        self.quantize = quantize

    def preprocessing(self) -> str:
        q = "float images quantised to uint8 (as if saved to PNG), " if self.quantize else ""
        return (
            f"{q}grayscale repeated to RGB, clean-fid 'clean' resize (PIL bicubic, float, per "
            f"channel) to {SIZE}x{SIZE}, (x-128)/128"
        )

    def to_input(self, x: torch.Tensor) -> torch.Tensor:
        """Images to 0..255 float at 299x299 (the network normalises inside _features)."""
        if x.dtype == torch.uint8:
            x = x.float()
        else:
            lo, hi = self.input_range
            x = (x.float().clamp(lo, hi) - lo) * (255.0 / (hi - lo))
            if self.quantize:
                x = x.round()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if tuple(x.shape[2:]) != (SIZE, SIZE):
            x = clean_resize(x)
        return x.to(self.device)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.layers.forward((x - 128.0) / 128.0).reshape(x.shape[0], -1)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        # The TorchScript graph ends in a softmax; its log is a valid logit vector (softmax
        # of log p is p). no_output_bias matches NVIDIA's IS protocol.
        probs = self.net(x, return_features=False, no_output_bias=True)
        return probs.clamp_min(1e-30).log()


@register_extractor("inception")
def _inception(
    device: str | torch.device | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
    input_range: tuple[float, float] = (-1.0, 1.0),
    quantize: bool = True,
) -> InceptionExtractor:
    return InceptionExtractor(
        device, path=path, sha256=sha256, input_range=input_range, quantize=quantize
    )
