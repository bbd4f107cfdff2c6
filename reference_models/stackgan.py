"""StackGAN-lite (Zhang et al. 2017): class labels in place of text, 16 px stage I, 32 px stage II.

The layout of the authors' code (hanzhanggit/StackGAN, TensorFlow; hanzhanggit/StackGAN-Pytorch
code/model.py), shrunk for glyphs:

* the "text embedding" ``t`` (option ``embedding``) is fixed, like the paper's pre-trained char-CNN-RNN embedding, and
  dense like it: each class is a fixed Gaussian code of ``t_dim`` (1024, the paper's size)
  numbers drawn from a seeded generator (:func:`class_embedding`). A class one-hot is the
  obvious stand-in but a poor one: through the CA's freshly initialised ``fc`` its class means
  differ by ~0.26 per dimension against the CA's unit noise, so ``c`` starts nearly blind to
  the class and the generator learned to ignore it (class accuracy 0.17-0.22 after 1000
  steps; ``embedding="onehot"`` keeps that failure); a dense code starts ~3x further apart,
  as a real text embedding does;
* each stage has its own conditioning augmentation :class:`CANet`, as in the authors'
  TensorFlow code: ``fc(t -> 2 c_dim)`` then a leaky ReLU (0.2), split into ``mu`` and
  ``log sigma``, ``c = mu + sigma * eps``. (StackGAN-Pytorch applies a plain ReLU and reads
  the second half as ``log var``, which pins sigma >= 1: never less noisy than the prior.)
* stage I (:class:`Stage1Generator`): ``[c, z] -> fc -> 4x4 -> 2 up-blocks -> 16x16``;
* stage II (:class:`Stage2Generator`): encodes the stage-I image to 8x8, concatenates its own
  ``c`` tiled over 8x8, two residual blocks, 2 up-blocks -> 32x32; it consumes the stage-I
  image without gradient (the reference freezes stage I and detaches its output);
* discriminators (:class:`StageDiscriminator`) encode the image to 4x4 and score it jointly with
  their own compression of the embedding (``fc(t -> c_dim)`` + leaky ReLU, tiled over 4x4:
  the TensorFlow code's ``context_embedding``), so they are matching-aware: the loop scores
  real/right, fake/right and real/wrong pairs.

``ca=False`` removes the augmentation (``c = mu``, sigma 0): the failure StackGAN#10 reports.
``detail_scale`` scales what stage II adds over the upsampled stage-I image (1: the paper's
generator; 0: stage II only copies stage I, the state StackGAN-Pytorch#26 describes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STAGES = ("stage1", "stage2")


def up(x: Tensor) -> Tensor:
    """The reference's ``upBlock`` resamples by nearest neighbour."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def down(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 2)


EMBEDDINGS = ("dense", "onehot")


def class_embedding(num_classes: int, t_dim: int, kind: str = "dense", seed: int = 0) -> Tensor:
    """The fixed "text embedding" of each class.

    ``dense``: ``[num_classes, t_dim]`` standard normal codes drawn from their own seeded
    generator, so generator and discriminators (and a reloaded model) agree on them without
    storing them; ``onehot``: the ``[num_classes, num_classes]`` identity (``t_dim`` unused).
    """
    if kind == "onehot":
        return torch.eye(num_classes)
    if kind != "dense":
        raise ValueError(f"unknown class embedding {kind!r}; choose one of {', '.join(EMBEDDINGS)}")
    return torch.randn(num_classes, t_dim, generator=torch.Generator().manual_seed(seed))


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, sigma^2) || N(0, 1))`` per dimension, averaged over the batch: ``[c_dim]``."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).mean(dim=0)


def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(True),
    )


class CANet(nn.Module):
    """Conditioning augmentation: embedding -> (mu, logvar) -> reparameterised c."""

    def __init__(self, t_dim: int, c_dim: int, augment: bool = True) -> None:
        super().__init__()
        self.c_dim, self.augment = c_dim, augment
        self.fc = nn.Linear(t_dim, 2 * c_dim)

    def encode(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``: the fc output after a leaky ReLU (0.2) is ``[mu, log sigma]``."""
        x = F.leaky_relu(self.fc(t), 0.2)
        return x[:, : self.c_dim], 2.0 * x[:, self.c_dim :]

    def forward(
        self, t: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(c, mu, logvar)``; without augmentation ``c = mu`` and logvar is -inf (sigma 0)."""
        mu, logvar = self.encode(t)
        if not self.augment:
            return mu, mu, torch.full_like(mu, float("-inf"))
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + eps * (0.5 * logvar).exp(), mu, logvar


class Stage1Generator(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, width: int, channels: int) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Sequential(
            nn.Linear(z_dim + c_dim, width * 4 * 4 * 4, bias=False),
            nn.BatchNorm1d(width * 4 * 4 * 4),
            nn.ReLU(True),
        )
        self.net = nn.Sequential(
            up_block(width * 4, width * 2),  # 8x8
            up_block(width * 2, width),  # 16x16
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        h = self.fc(torch.cat([c, z], dim=1)).view(-1, self.width * 4, 4, 4)
        return self.net(h)


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.block(x))


class Stage2Generator(nn.Module):
    """Stage-I image (16 px) and condition -> 32 px image."""

    def __init__(self, c_dim: int, width: int, channels: int, res_blocks: int = 2) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),  # 8x8
            nn.BatchNorm2d(width * 2),
            nn.ReLU(True),
        )
        self.joint = nn.Sequential(
            nn.Conv2d(width * 2 + c_dim, width * 2, 3, padding=1, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(True),
        )
        self.residual = nn.Sequential(*[ResBlock(width * 2) for _ in range(res_blocks)])
        self.net = nn.Sequential(
            up_block(width * 2, width),  # 16x16
            up_block(width, width // 2),  # 32x32
            nn.Conv2d(width // 2, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, stage1: Tensor, c: Tensor) -> Tensor:
        h = self.encoder(stage1)
        tiled = c[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.net(self.residual(self.joint(torch.cat([h, tiled], dim=1))))


class StackGANGenerator(nn.Module):
    """Both stages and their conditioning; ``forward(z, y)`` samples the trained stages.

    The ``stage`` buffer (1 or 2, set by the loop) says how far training has got: at stage 1
    ``forward`` returns the stage-I image upsampled to full size, at stage 2 the stage-II
    image, so samples and evaluations always show the trained model.
    """

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        c_dim: int,
        width: int,
        channels: int,
        augment: bool = True,
        detail_scale: float = 1.0,
        t_dim: int = 1024,
        embedding: str = "dense",
    ) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.c_dim = latent_dim, num_classes, c_dim
        self.detail_scale = float(detail_scale)
        emb = class_embedding(num_classes, t_dim, embedding)
        t_dim = emb.shape[1]
        self.register_buffer("embedding", emb, persistent=False)
        self.register_buffer("stage", torch.tensor(1, dtype=torch.long))
        self.ca1 = CANet(t_dim, c_dim, augment)
        self.stage1 = Stage1Generator(latent_dim, c_dim, width, channels)
        self.ca2 = CANet(t_dim, c_dim, augment)
        self.stage2 = Stage2Generator(c_dim, width, channels)

    def ca(self, stage: int) -> CANet:
        return self.ca1 if stage == 1 else self.ca2

    def stages(self) -> dict[str, nn.Module]:
        """Each stage's generator with its conditioning augmentation, by phase name."""
        return {
            STAGES[0]: nn.ModuleList([self.ca1, self.stage1]),
            STAGES[1]: nn.ModuleList([self.ca2, self.stage2]),
        }

    def sample_stage1(
        self, z: Tensor, y: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(16 px image, mu, logvar)`` of stage I."""
        c, mu, logvar = self.ca1(self.embedding[y], generator)
        return self.stage1(z, c), mu, logvar

    def sample_stage2(
        self, stage1: Tensor, y: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``(32 px image, mu, logvar)`` of stage II given a stage-I image (not backpropagated)."""
        c, mu, logvar = self.ca2(self.embedding[y], generator)
        s1 = stage1.detach()
        image = self.stage2(s1, c)
        if self.detail_scale != 1.0:
            base = up(s1)
            image = base + self.detail_scale * (image - base)
        return image, mu, logvar

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        s1 = self.sample_stage1(z, y)[0]
        if int(self.stage) == 1:
            return up(s1)
        return self.sample_stage2(s1, y)[0]


class StageDiscriminator(nn.Module):
    """Image (16 or 32 px) and embedding ``t`` -> one logit (the authors' ``get_discriminator``)."""

    def __init__(self, size: int, t_dim: int, c_dim: int, width: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch, s = width, size // 2
        while s > 4:
            layers += [
                nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch * 2),
                nn.LeakyReLU(0.2, True),
            ]
            ch, s = ch * 2, s // 2
        self.encoder = nn.Sequential(*layers)
        self.context = nn.Sequential(nn.Linear(t_dim, c_dim), nn.LeakyReLU(0.2, True))
        self.logits = nn.Sequential(
            nn.Conv2d(ch + c_dim, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ch, 1, 4),
        )

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        h = self.encoder(x)
        code = self.context(t)
        tiled = code[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.logits(torch.cat([h, tiled], dim=1)).reshape(-1)


class StackGANDiscriminator(nn.Module):
    """The stages' discriminators; ``forward(x, y)`` scores 32 px images as the active stage does.

    Each stage's discriminator reads the same fixed class embedding as the generator
    (:func:`class_embedding`) through its own ``context`` layer; the ``stage`` buffer (set by
    the loop, like the generator's) says which one is trained.
    """

    def __init__(
        self,
        image_size: int,
        num_classes: int,
        c_dim: int,
        width: int,
        channels: int,
        t_dim: int = 1024,
        embedding: str = "dense",
    ) -> None:
        super().__init__()
        emb = class_embedding(num_classes, t_dim, embedding)
        t_dim = emb.shape[1]
        self.register_buffer("embedding", emb, persistent=False)
        self.register_buffer("stage", torch.tensor(1, dtype=torch.long))
        self.d1 = StageDiscriminator(image_size // 2, t_dim, c_dim, width, channels)
        self.d2 = StageDiscriminator(image_size, t_dim, c_dim, width, channels)

    def stage_net(self, stage: int) -> StageDiscriminator:
        return self.d1 if stage == 1 else self.d2

    def parts(self) -> dict[str, nn.Module]:
        """Watched one by one: each stage's discriminator is its own network."""
        return {f"D_{stage}": net for stage, net in self.stages().items()}

    def stages(self) -> dict[str, nn.Module]:
        """Each stage's discriminator, by phase name."""
        return {STAGES[0]: self.d1, STAGES[1]: self.d2}

    def score(self, x: Tensor, y: Tensor, stage: int) -> Tensor:
        """Stage ``stage``'s logits for images at that stage's size and labels ``y``."""
        return self.stage_net(stage)(x, self.embedding[y])

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        stage = int(self.stage)
        return self.score(down(x) if stage == 1 else x, y, stage)
