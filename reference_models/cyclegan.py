"""CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGANs, LSGAN, cycle and identity.

Follows ``ResnetGenerator`` of junyanz/pytorch-CycleGAN-and-pix2pix (models/networks.py):
a reflection-padded 7x7 stem, two stride-2 downsamplings, ``n_blocks`` residual blocks
(reflection pad, 3x3 conv, instance norm, ReLU, twice), two stride-2 transposed
convolutions back up, a 7x7 convolution and tanh; instance norm, no dropout. The
reference uses 9 blocks and 64 channels at 256 px; the glyph-sized default is 3 blocks
and 16 channels, which trains in minutes on a CPU. The image side must be a multiple
of 4 (two downsamplings), as the reference's tips say.

:class:`ImagePool` is the reference's history buffer of generated images (Shrivastava et
al. 2017): once full, each fake is swapped with a stored one with probability 1/2, so
D also sees older fakes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gandiag.reference_models.patchgan import norm_layer


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
            norm_layer(norm, channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
            norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Images ``[B, C, S, S]`` in [-1, 1] -> images ``[B, C_out, S, S]`` in [-1, 1]."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        width: int = 16,
        n_blocks: int = 3,
        norm: str = "instance",
    ) -> None:
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=bias),
            norm_layer(norm, width),
            nn.ReLU(True),
        ]
        for i in range(2):  # downsampling
            c = width * 2**i
            layers += [
                nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias),
                norm_layer(norm, 2 * c),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(width * 4, norm) for _ in range(n_blocks)]
        for i in range(2):  # upsampling
            c = width * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                norm_layer(norm, c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(
                f"the CycleGAN ResNet generator needs image sides that are multiples of 4, "
                f"got {tuple(x.shape[-2:])}; resize the data (data.options.image_size)"
            )
        return self.net(x)


class ImagePool:
    """History of generated images (``size`` 0 disables it: the batch passes through).

    The reference's rule (junyanz/pytorch-CycleGAN-and-pix2pix, util/image_pool.py): while
    the pool fills, each image is stored and passed on; once full, each image is, with
    probability 1/2, swapped for a stored one drawn uniformly (the stored one goes to D,
    the new one takes its slot), else passed on. Decided image by image on the host, in
    the reference's order, from the pool's CPU generator; the images themselves move in
    two stacks per batch (the output and the new pool), not one copy per image, so a GPU
    step pays two launches for the pool instead of two or three per image."""

    def __init__(self, size: int = 50, generator: torch.Generator | None = None) -> None:
        self.size = int(size)
        self.generator = generator
        self._pool: Tensor | None = None  # [stored, C, H, W]

    def __len__(self) -> int:
        return 0 if self._pool is None else self._pool.shape[0]

    def query(self, images: Tensor) -> Tensor:
        """The batch D trains on: each image, or a stored one swapped for it (p = 1/2)."""
        if self.size == 0:
            return images
        fresh = list(images.detach().unbind(0))
        held = [] if self._pool is None else list(self._pool.unbind(0))
        fill = min(len(fresh), self.size - len(held))
        out, held = fresh[:fill], held + fresh[:fill]
        rest = fresh[fill:]
        if rest:  # the pool is full: a coin and a slot per image, as the reference draws
            draws = torch.rand(len(rest), 2, generator=self.generator)
            swap = (draws[:, 0] > 0.5).tolist()
            slot = (draws[:, 1] * self.size).long().clamp_(max=self.size - 1).tolist()
            for image, swapped, i in zip(rest, swap, slot):
                if swapped:
                    out.append(held[i])
                    held[i] = image
                else:
                    out.append(image)
        self._pool = torch.stack(held)
        return torch.stack(out)

    def state_dict(self) -> dict[str, object]:
        stored = [] if self._pool is None else list(self._pool.cpu().split(1))
        return {"images": stored}  # one [1, C, H, W] tensor per stored image

    def load_state_dict(self, state: dict[str, object], device: torch.device) -> None:
        stored = list(state["images"])  # type: ignore[call-overload]
        self._pool = torch.cat([t.to(device) for t in stored]) if stored else None
