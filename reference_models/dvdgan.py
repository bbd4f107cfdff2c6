"""DVD-GAN-lite: class-conditional video generation with a spatial and a temporal discriminator.

After Clark, Donahue & Simonyan 2019, "Adversarial Video Generation on Complex Datasets"
(arXiv 1907.06571), shrunk to 32x32 clips of 8 frames so it trains on a CPU in minutes:

* **Generator.** ``[z; e(y)]`` is projected to a 4x4 feature map, which is the input, at
  every frame, of a convolutional GRU unrolled once per frame. As in the paper, each
  resolution has its own Conv-GRU before its BigGAN-style up-sampling residual block, and
  ``[z; e(y)]`` is the input of every conditional batch norm of those blocks (a linear map
  to each gain and bias, shared across frames); the last block's output becomes a
  ``tanh`` frame. Output ``[B, T, C, H, W]``. With a single Conv-GRU at 4x4 (an earlier
  version of this model) the state, fed the same input at every frame, reached its fixed
  point within a frame or two: the clips changed between frames 0 and 1 and then stood
  still, and they stayed that way through training (later-frame change 0.05x that of real
  clips at step 50, against 0.55x with a GRU per resolution). ``latent_bn=False`` gives
  the batch norms the class alone (this model's earlier version).
  Two options build a failure into G, for the failure configurations: ``framewise=True``
  is an image generator run frame by frame (each frame from its own latent code and the
  class, no Conv-GRU; the latent is ``frames x latent_dim`` long): flicker;
  ``state_reset=k`` resets the Conv-GRUs' state every ``k`` frames (a chunked unroll), so
  the clip repeats with period ``k``: looping.
* **Spatial discriminator D_S.** Scores ``k`` frames sampled uniformly without
  replacement (the same frames for every clip of the batch, kept in temporal order) at
  full resolution with a 2-D residual network, and sums the ``k`` per-frame scores.
* **Temporal discriminator D_T.** Sees the whole clip after 2x2 average pooling; its
  first two residual blocks are 3-D (3x3x3 convolutions), the rest 2-D per frame, and its
  per-frame scores are summed.
* Both discriminators use spectral normalisation and a projection head for the class
  (Miyato & Koyama 2018); the objective is the hinge loss, summed over the two.

Deviations from the paper, for CPU budgets: widths of 8-64 channels, ``k = 4`` of 8 frames,
one D step per G step (``gru_levels`` can keep only the first Conv-GRUs, e.g. for tests).
The discriminators are twice as wide as the generator's last blocks (``d_width`` 16): at 8,
D_T's 3-D blocks had 8 and 16 channels, and the clips moved about half as much as real
ones after 600 steps (docs/models.md, "Video"). The configs raise both learning rates
to 4e-4 for batch 16 and runs of a few hundred steps (the paper's 1e-4 and 5e-4 are for
batch 512 and long runs; with them the clips were still grey blurs at 600 steps).
No official code exists; this follows the paper's text, not any port.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.capabilities import ModelCapabilities
from gandiag.reference_models.registry import ModelBundle, ModelSpec, register_model
from gandiag.roles import Role

#: the networks the Monitor watches separately (gradient norms, outputs)
SPATIAL, TEMPORAL = "D_S", "D_T"


def _sn(layer: nn.Module) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer)


class ConvGRUCell(nn.Module):
    """A convolutional GRU (Ballas et al. 2016): the gates and candidate are 3x3 convolutions."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.channels = channels
        self.gates = nn.Conv2d(channels + hidden, 2 * hidden, 3, padding=1)
        self.candidate = nn.Conv2d(channels + hidden, hidden, 3, padding=1)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        return self.step(*self.input_terms(x), h)

    def input_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The input's share of the gate and candidate pre-activations (biases included).

        A convolution of ``[x; h]`` is the sum of one of ``x`` and one of ``h``, so the
        input's share can be computed for every frame in one batched call (or once, when
        the input is the same at every frame) before the recurrence runs.
        """
        c = self.channels
        gx = F.conv2d(x, self.gates.weight[:, :c], self.gates.bias, padding=1)
        cx = F.conv2d(x, self.candidate.weight[:, :c], self.candidate.bias, padding=1)
        return gx, cx

    def step(self, gx: Tensor, cx: Tensor, h: Tensor | None) -> Tensor:
        """One update from the input terms of :meth:`input_terms`; ``h=None`` is the zero
        state (its convolutions are zero, so they are skipped)."""
        c = self.channels
        if h is None:
            update = torch.sigmoid(gx[:, gx.shape[1] // 2 :])
            return (1.0 - update) * torch.tanh(cx)
        gh = F.conv2d(h, self.gates.weight[:, c:], padding=1)
        reset, update = torch.sigmoid(gx + gh).chunk(2, dim=1)
        cand = torch.tanh(cx + F.conv2d(reset * h, self.candidate.weight[:, c:], padding=1))
        return update * h + (1.0 - update) * cand


class ConditionalBN(nn.Module):
    """Batch norm whose gain and bias come from the class (BigGAN's class-conditional BN),
    or, with ``cond_dim``, from a linear map of a conditioning vector such as ``[z; e(y)]``."""

    def __init__(self, channels: int, num_classes: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0 and not cond_dim)
        self.gain: nn.Module | None
        self.bias: nn.Module | None
        if cond_dim:
            self.gain, self.bias = nn.Linear(cond_dim, channels), nn.Linear(cond_dim, channels)
        elif num_classes:
            self.gain, self.bias = (
                nn.Embedding(num_classes, channels),
                nn.Embedding(num_classes, channels),
            )
        else:
            self.gain = self.bias = None
        if self.gain is not None:
            for m in (self.gain, self.bias):
                nn.init.zeros_(m.weight)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        """``y``: class indices ``[N]``, or the conditioning vectors ``[N, cond_dim]``."""
        out = self.bn(x)
        if self.gain is None or y is None:
            return out
        return out * (1 + self.gain(y)[:, :, None, None]) + self.bias(y)[:, :, None, None]


def upsample2x(x: Tensor) -> Tensor:
    """Nearest-neighbour 2x up-sampling of ``[N, C, H, W]``: the values of
    ``F.interpolate(x, scale_factor=2.0)``, 2-4x faster on CPU (forward and backward)."""
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


class UpBlock(nn.Module):
    """BigGAN generator block: CBN-ReLU-up-conv-CBN-ReLU-conv plus an up-sampled 1x1 skip."""

    def __init__(self, cin: int, cout: int, num_classes: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.bn1 = ConditionalBN(cin, num_classes, cond_dim)
        self.bn2 = ConditionalBN(cout, num_classes, cond_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, y: Tensor | None) -> Tensor:
        h = upsample2x(F.relu(self.bn1(x, y)))
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        # a 1x1 convolution commutes with nearest up-sampling: convolve at the low resolution
        return h + upsample2x(self.skip(x))


class DVDGenerator(nn.Module):
    """``G(z, y) -> [B, frames, channels, size, size]`` in [-1, 1] (see the module docstring)."""

    def __init__(
        self,
        latent_dim: int,
        *,
        frames: int,
        image_size: int,
        channels: int,
        width: int,
        num_classes: int,
        embed_dim: int,
        gru_levels: int | None = None,
        latent_bn: bool = True,
        framewise: bool = False,
        state_reset: int | None = None,
    ) -> None:
        super().__init__()
        ups = {16: 2, 32: 3, 64: 4}.get(image_size)
        if ups is None:
            raise ValueError(f"dvdgan supports image_size 16, 32 or 64, got {image_size}")
        if state_reset is not None and not 1 <= state_reset < frames:
            raise ValueError(f"state_reset must be between 1 and frames - 1, got {state_reset}")
        if state_reset is not None and framewise:
            raise ValueError("state_reset resets the Conv-GRUs, which a framewise G does not have")
        self.frames, self.num_classes, self.latent_bn = frames, num_classes, latent_bn
        self.framewise, self.state_reset = framewise, state_reset
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        cond = latent_dim + (embed_dim if num_classes else 0)
        c0 = 4 * width
        self.project = nn.Linear(cond, c0 * 16)
        chans = [c0] + [max(width, c0 >> i) for i in range(ups)]
        # one Conv-GRU per resolution, each before that resolution's up-sampling block
        # (Clark et al. 2019, figure 1); `gru_levels` keeps only the first few for cost
        levels = ups if gru_levels is None else max(1, min(gru_levels, ups))
        if framewise:  # an image generator per frame: no recurrence at all
            levels = 0
        self.grus = nn.ModuleList(ConvGRUCell(c, c) for c in chans[:levels])
        self.blocks = nn.ModuleList(
            UpBlock(a, b, num_classes, cond if latent_bn else 0)
            for a, b in itertools.pairwise(chans)
        )
        self.out_bn = ConditionalBN(chans[-1], num_classes)
        self.out = nn.Conv2d(chans[-1], channels, 3, padding=1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        b = z.shape[0]
        yt = None if y is None else y.repeat_interleave(self.frames)
        if self.framewise:  # z holds one code per frame: [B, frames * d] -> [B * frames, d]
            z = z.reshape(b * self.frames, -1)
        if self.embed is not None:
            if y is None:
                raise ValueError("this DVD-GAN generator is class-conditional: call G(z, y)")
            z = torch.cat([z, self.embed(yt if self.framewise else y)], 1)
        h: Tensor
        if self.framewise:
            h = self.project(z).view(b, self.frames, -1, 4, 4)
            cond = z if self.latent_bn else None
        else:
            # the same input at every frame of the first Conv-GRU; time enters through its
            # state
            h = self.project(z).view(b, -1, 4, 4)
            cond = z.repeat_interleave(self.frames, 0) if self.latent_bn else None
        for i, block in enumerate(self.blocks):
            if i < len(self.grus):
                h = self._unroll(self.grus[i], h, self.frames, self.state_reset)
            h = block(h.flatten(0, 1), yt if cond is None else cond).unflatten(0, (b, self.frames))
        h = h.flatten(0, 1)
        frames = torch.tanh(self.out(F.relu(self.out_bn(h, yt))))
        return frames.view(b, self.frames, *frames.shape[1:])

    @staticmethod
    def _unroll(gru: ConvGRUCell, x: Tensor, frames: int, reset: int | None = None) -> Tensor:
        """Run ``gru`` from a zero state over ``frames`` frames of ``x``: ``[B, T, C, H, W]``,
        or ``[B, C, H, W]`` for the same input at every frame. The input's convolutions run
        once, batched over the frames, before the recurrence. ``reset``: the state goes back
        to zero every ``reset`` frames (a chunked unroll that forgets its state between
        chunks: with the same input at every frame, the clip repeats with that period)."""
        if x.dim() == 4:
            gx, cx = gru.input_terms(x)
            terms = [(gx, cx)] * frames
        else:
            gx, cx = gru.input_terms(x.flatten(0, 1))
            gx, cx = gx.unflatten(0, x.shape[:2]), cx.unflatten(0, x.shape[:2])
            terms = [(gx[:, t], cx[:, t]) for t in range(frames)]
        h: Tensor | None = None
        states = []
        for t, (g_t, c_t) in enumerate(terms):
            if reset is not None and t % reset == 0:
                h = None
            h = gru.step(g_t, c_t, h)
            states.append(h)
        return torch.stack(states, 1)


class DownBlock(nn.Module):
    """BigGAN discriminator block in 2-D or 3-D (3x3(x3) convs); pools space only, never time."""

    def __init__(self, cin: int, cout: int, *, dims: int, down: bool, preact: bool) -> None:
        super().__init__()
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        self.conv1 = _sn(conv(cin, cout, 3, padding=1))
        self.conv2 = _sn(conv(cout, cout, 3, padding=1))
        self.skip = _sn(conv(cin, cout, 1))
        self.dims, self.down, self.preact = dims, down, preact

    def _pool(self, x: Tensor) -> Tensor:
        if not self.down:
            return x
        return F.avg_pool3d(x, (1, 2, 2)) if self.dims == 3 else F.avg_pool2d(x, 2)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(x) if self.preact else x
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        return h + self.skip(self._pool(x))


class _ProjectionHead(nn.Module):
    """ReLU, sum-pool, a linear score plus the class projection <e(y), h>."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.linear = _sn(nn.Linear(channels, 1))
        self.embed = _sn(nn.Embedding(num_classes, channels)) if num_classes else None

    def forward(self, h: Tensor, y: Tensor | None) -> Tensor:
        out = self.linear(h).squeeze(1)
        if self.embed is not None and y is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out


class SpatialDiscriminator(nn.Module):
    """D_S: a 2-D residual network on ``k`` sampled full-resolution frames; scores summed."""

    def __init__(
        self, *, channels: int, image_size: int, width: int, num_classes: int, k_frames: int
    ) -> None:
        super().__init__()
        downs = {16: 2, 32: 3, 64: 4}[image_size]
        chans = [channels] + [width * min(2**i, 4) for i in range(downs)]
        blocks = [
            DownBlock(a, b, dims=2, down=True, preact=i > 0)
            for i, (a, b) in enumerate(itertools.pairwise(chans))
        ]
        blocks.append(DownBlock(chans[-1], chans[-1], dims=2, down=False, preact=True))
        self.blocks = nn.Sequential(*blocks)
        self.head = _ProjectionHead(chans[-1], num_classes)
        self.k_frames = k_frames

    def forward(self, video: Tensor, y: Tensor | None, frames: Tensor) -> Tensor:
        b, k = video.shape[0], len(frames)
        x = video[:, frames].flatten(0, 1)
        h = F.relu(self.blocks(x)).sum((2, 3))
        yk = None if y is None else y.repeat_interleave(k)
        return self.head(h, yk).view(b, k).sum(1)


class TemporalDiscriminator(nn.Module):
    """D_T: the 2x2-average-pooled clip through two 3-D residual blocks, then 2-D per frame."""

    def __init__(self, *, channels: int, image_size: int, width: int, num_classes: int) -> None:
        super().__init__()
        half = image_size // 2
        downs = {8: 1, 16: 2, 32: 3}[half]
        self.block3d = nn.Sequential(
            DownBlock(channels, width, dims=3, down=True, preact=False),
            DownBlock(width, 2 * width, dims=3, down=downs >= 2, preact=True),
        )
        rest = [DownBlock(2 * width, 4 * width, dims=2, down=downs >= 3, preact=True)]
        rest.append(DownBlock(4 * width, 4 * width, dims=2, down=False, preact=True))
        self.block2d = nn.Sequential(*rest)
        self.head = _ProjectionHead(4 * width, num_classes)

    def forward(self, video: Tensor, y: Tensor | None) -> Tensor:
        b, t = video.shape[:2]
        x = F.avg_pool2d(video.flatten(0, 1), 2).view(
            b, t, video.shape[2], *[s // 2 for s in video.shape[3:]]
        )
        h = self.block3d(x.transpose(1, 2))  # [B, C, T, H, W]
        h = h.transpose(1, 2).flatten(0, 1)  # per frame
        h = F.relu(self.block2d(h)).sum((2, 3)).view(b, t, -1)
        yt = None if y is None else y.repeat_interleave(t)
        return self.head(h.flatten(0, 1), yt).view(b, t).sum(1)


class DVDDiscriminators(nn.Module):
    """The pair of discriminators; ``forward`` returns ``{"D_S": [B], "D_T": [B]}`` scores.

    Either may be switched off (``spatial=False`` / ``temporal=False``), e.g. to show what
    the temporal one contributes. ``parts()`` gives the networks by name for the Monitor.
    """

    def __init__(
        self,
        *,
        frames: int,
        channels: int,
        image_size: int,
        width: int,
        num_classes: int,
        k_frames: int,
        spatial: bool = True,
        temporal: bool = True,
    ) -> None:
        super().__init__()
        if not (spatial or temporal):
            raise ValueError("dvdgan needs at least one discriminator: set spatial or temporal")
        if not 1 <= k_frames <= frames:
            raise ValueError(f"k_frames must be between 1 and frames={frames}, got {k_frames}")
        self.frames, self.k_frames = frames, k_frames
        self.spatial = (
            SpatialDiscriminator(
                channels=channels,
                image_size=image_size,
                width=width,
                num_classes=num_classes,
                k_frames=k_frames,
            )
            if spatial
            else None
        )
        self.temporal = (
            TemporalDiscriminator(
                channels=channels, image_size=image_size, width=width, num_classes=num_classes
            )
            if temporal
            else None
        )

    def parts(self) -> dict[str, nn.Module]:
        out = {}
        if self.spatial is not None:
            out[SPATIAL] = self.spatial
        if self.temporal is not None:
            out[TEMPORAL] = self.temporal
        return out

    def sample_frames(self, generator: torch.Generator | None = None, device=None) -> Tensor:
        """``k`` frame indices drawn uniformly without replacement, in temporal order."""
        # drawn on the generator's own device (a CUDA generator cannot draw on the CPU)
        where = generator.device if generator is not None else "cpu"
        idx = torch.randperm(self.frames, generator=generator, device=where)[: self.k_frames]
        return idx.sort().values.to(device)

    def forward(
        self, video: Tensor, y: Tensor | None = None, frames: Tensor | None = None
    ) -> dict[str, Tensor]:
        if video.dim() != 5:
            raise ValueError(
                f"DVD-GAN discriminators take clips [B, T, C, H, W], got shape {tuple(video.shape)}"
            )
        out = {}
        if self.spatial is not None:
            if frames is None:
                frames = self.sample_frames(device=video.device)
            out[SPATIAL] = self.spatial(video, y, frames)
        if self.temporal is not None:
            out[TEMPORAL] = self.temporal(video, y)
        return out


def _factory(name: str, opts: dict[str, Any], training: dict[str, Any]) -> ModelBundle:
    if not opts.get("image_size") or not opts.get("frames"):
        raise ValueError("dvdgan needs video data: set frames and image_size (a video dataset)")
    classes = int(opts["num_classes"])
    size, channels, frames = int(opts["image_size"]), int(opts["channels"]), int(opts["frames"])
    g = DVDGenerator(
        int(opts["latent_dim"]),
        frames=frames,
        image_size=size,
        channels=channels,
        width=int(opts["width"]),
        num_classes=classes,
        embed_dim=int(opts["embed_dim"]),
        gru_levels=None if opts.get("gru_levels") is None else int(opts["gru_levels"]),
        latent_bn=bool(opts["latent_bn"]),
        framewise=bool(opts["framewise"]),
        # 0 or None: the state is carried over the whole clip (the paper's unroll)
        state_reset=int(opts.get("state_reset") or 0) or None,
    )
    # framewise: one code of latent_dim per frame, drawn together as one latent vector
    latent_dim = int(opts["latent_dim"]) * (frames if opts["framewise"] else 1)
    d = DVDDiscriminators(
        frames=frames,
        channels=channels,
        image_size=size,
        width=int(opts["d_width"]),
        num_classes=classes,
        k_frames=int(opts["k_frames"]),
        spatial=bool(opts["spatial"]),
        temporal=bool(opts["temporal"]),
    )
    return ModelBundle(
        name=name,
        kind="gan",
        latent_dim=latent_dim,
        options=opts,
        training=training,
        generator=g,
        discriminator=d,
        num_classes=classes,
    )


register_model(
    ModelSpec(
        "dvdgan",
        "gan",
        "DVD-GAN-lite: Conv-GRU video G, spatial (k frames) and temporal (3-D) hinge/SN Ds",
        "Clark et al. 2019",
        _factory,
        {
            "latent_dim": 64,
            "embed_dim": 64,
            "num_classes": 10,
            "gru_levels": None,
            "latent_bn": True,
            "framewise": False,
            "state_reset": None,
            "width": 8,
            "d_width": 16,
            "frames": 8,
            "k_frames": 4,
            "image_size": 32,
            "channels": 1,
            "data_dim": None,
            "spatial": True,
            "temporal": True,
        },
        # Clark et al. 2019, section 4: Adam, lr 1e-4 (G) and 5e-4 (D), beta1 0, beta2 0.999.
        {
            "loss": "hinge",
            "d_steps": 1,
            "optimizer": "adam",
            "lr_g": 1e-4,
            "lr_d": 5e-4,
            "betas": (0.0, 0.999),
        },
        # G(z, y); each D projects the class; two discriminators (D_S, D_T)
        ModelCapabilities(
            conditional=True,
            conditional_discriminator=True,
            networks_per_role={Role.DISCRIMINATOR: 2},
        ),
    )
)
