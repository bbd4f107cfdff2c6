import pytest
import torch
from torch import nn

from gandiag.reference_models import build_model, get_spec
from gandiag.reference_models.cyclegan import ImagePool
from gandiag.reference_models.patchgan import PatchGAN, receptive_field


def test_cyclegan_has_two_generators_two_patchgans_and_reference_training():
    b = build_model("cyclegan", seed=0)
    assert b.kind == "translation" and b.task == "unpaired"
    assert set(b.generators) == {"G_AB", "G_BA"} and set(b.discriminators) == {"D_A", "D_B"}
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    assert b.generators["G_AB"](x).shape == x.shape
    assert b.discriminators["D_B"](x).dim() == 4  # a map of patch logits
    t = get_spec("cyclegan").training
    assert (t["loss"], t["lambda_cycle"], t["lambda_identity"], t["pool_size"]) == (
        "lsgan",
        10.0,
        0.5,
        50,
    )
    assert not any(isinstance(m, nn.Dropout) for m in b.generator.modules())
    with pytest.raises(ValueError, match="multiples of 4"):
        b.generator(torch.zeros(1, 1, 30, 30))


def test_patchgan_receptive_field_matches_the_reference_layout():
    # the reference's 70x70 PatchGAN is n_layers=3; n_layers=1 gives 16 px on 28 px glyphs
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    d = PatchGAN(1, n_layers=1, norm="none")  # (instance norm mixes the whole image)
    x = torch.zeros(1, 1, 28, 28, requires_grad=True)
    d(x)[0, 0, 5, 5].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert int(rows.max() - rows.min()) + 1 == 16


def test_pix2pix_unet_has_dropout_as_noise_and_conditional_d():
    b = build_model("pix2pix", seed=0)
    assert b.task == "paired" and get_spec("pix2pix").training["lambda_l1"] == 100.0
    drops = [m for m in b.generator.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(m.p == 0.5 for m in drops)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    b.generator.train()
    torch.manual_seed(0)
    y1 = b.generator(x)
    torch.manual_seed(1)
    y2 = b.generator(x)
    assert y1.shape == x.shape and not torch.equal(y1, y2)  # dropout is live noise
    assert b.discriminator(torch.cat([x, y1], 1)).shape[1] == 1


def test_srgan_upsamples_with_pixel_shuffle():
    b = build_model("srgan", seed=0, scale=4)
    assert b.task == "super_resolution"
    assert sum(isinstance(m, nn.PixelShuffle) for m in b.generator.modules()) == 2
    lr = torch.rand(2, 1, 7, 7) * 2 - 1
    sr = b.generator(lr)
    assert sr.shape == (2, 1, 28, 28) and sr.abs().max() <= 1
    assert b.discriminator(sr).shape == (2, 1)
    t = get_spec("srgan").training
    assert t["lambda_adv"] == 1e-3 and t["pretrain_steps"] > 0
    with pytest.raises(ValueError, match="power of 2"):
        build_model("srgan", scale=3)


def test_init_gain_sets_the_weight_scale():
    small = build_model("cyclegan", seed=0, init_gain=0.02).generator
    big = build_model("cyclegan", seed=0, init_gain=0.5).generator
    w = [m.weight.std() for m in (small.net[1], big.net[1])]
    assert 0.01 < w[0] < 0.03 and 0.35 < w[1] < 0.65


def test_image_pool_returns_older_fakes_once_full():
    pool = ImagePool(4, torch.Generator().manual_seed(0))
    first = torch.arange(4.0).reshape(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: passes through
    out = torch.cat([pool.query(torch.full((8, 1, 1, 1), 9.0)) for _ in range(4)])
    assert (out < 9).any() and (out == 9).any()  # some swapped for stored, some fresh
    assert torch.equal(ImagePool(0).query(first), first)


class PerImagePool:
    """The pool written image by image, as the reference's util/image_pool.py (and this
    package's earlier version): one draw of two numbers per image once full."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator, self.images = size, generator, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
                continue
            draws = torch.rand(2, generator=self.generator)
            if draws[0] > 0.5:
                i = int(draws[1] * len(self.images))
                old = self.images[i].clone()
                self.images[i] = image.clone()
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out)


def test_image_pool_draws_and_returns_exactly_what_the_per_image_rule_does():
    pool = ImagePool(7, torch.Generator().manual_seed(3))
    ref = PerImagePool(7, torch.Generator().manual_seed(3))
    data = torch.Generator().manual_seed(0)
    for n in (3, 3, 5, 16, 1, 16, 16):  # fills across a batch boundary, then swaps
        batch = torch.randn(n, 2, 4, 4, generator=data)
        assert torch.equal(pool.query(batch), ref.query(batch))
        assert len(pool) == len(ref.images)
        assert torch.equal(torch.cat(pool.state_dict()["images"]), torch.cat(ref.images))
    # stored images are copies: changing the batch afterwards changes nothing stored
    batch = torch.randn(16, 2, 4, 4, generator=data)
    pool.query(batch)
    before = torch.cat(pool.state_dict()["images"]).clone()
    batch.add_(1.0)
    assert torch.equal(torch.cat(pool.state_dict()["images"]), before)


def test_image_pool_state_round_trip():
    pool = ImagePool(4, torch.Generator().manual_seed(0))
    pool.query(torch.randn(6, 1, 2, 2))
    again = ImagePool(4, torch.Generator().manual_seed(0))
    again.load_state_dict(pool.state_dict(), torch.device("cpu"))
    assert len(again) == 4
    assert torch.equal(
        torch.cat(again.state_dict()["images"]), torch.cat(pool.state_dict()["images"])
    )
    empty = ImagePool(4)
    empty.load_state_dict({"images": []}, torch.device("cpu"))
    assert len(empty) == 0
