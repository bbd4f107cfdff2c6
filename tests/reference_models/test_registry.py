import pytest
import torch

from gandiag.reference_models import MODELS, build_model, get_spec, list_models

REQUIRED = {
    "mlp_gan",
    "dcgan",
    "lsgan",
    "wgan",
    "wgan_gp",
    "hinge_sn",
    "cgan",
    "acgan",
    "infogan",
    "unrolled_gan",
    "ae",
    "dae",
    "vae",
    "conv_vae",
    "beta_vae",
}


def test_registry_holds_every_required_model():
    assert REQUIRED <= set(list_models())
    for name in list_models():
        assert MODELS[name].summary and MODELS[name].reference


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_model_builds_and_runs_on_glyph_shaped_data(name):
    bundle = build_model(name, seed=0, data_dim=None, image_size=28, channels=1)
    z, y = bundle.sample_latent(4)
    x = bundle.generate(z, y)
    assert x.shape == (4, 1, 28, 28)
    assert x.abs().max() <= 1.0  # tanh range, like the data
    if bundle.kind == "gan":
        d = bundle.discriminator(x, y) if name == "cgan" else bundle.discriminator(x)
        assert d.shape == (4,)
    elif bundle.kind == "vae":
        recon, mu, logvar = bundle.model(x)
        assert recon.shape == x.shape and mu.shape == logvar.shape == (4, bundle.latent_dim)
    else:
        assert bundle.model(x).shape == x.shape


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size, channels):
    b = build_model("dcgan", image_size=size, channels=channels, latent_dim=64, width=8)
    x = b.generator(torch.randn(2, 64))
    assert x.shape == (2, channels, size, size)
    assert b.discriminator(x).shape == (2,)


def test_dcgan_at_64px_mirrors_the_paper_layout():
    b = build_model("dcgan", image_size=64, channels=3)
    convs = [m for m in b.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    assert isinstance(b.generator.net[-1], torch.nn.Tanh)


def test_mlp_gan_follows_reference_toy_setup():
    b = build_model("mlp_gan")
    linears = [m for m in b.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 128), (128, 128), (128, 2)]
    assert b.generator(torch.randn(3, 16)).shape == (3, 2)


def test_unrolled_gan_defaults_follow_metz_et_al():
    # Appendix A, 8-Gaussian ring: 10 unrolling steps, Adam 1e-4, beta1 0.5, for G and D.
    training = get_spec("unrolled_gan").training
    assert training["unrolled_steps"] == 10
    assert (training["lr_g"], training["lr_d"], training["betas"][0]) == (1e-4, 1e-4, 0.5)


def test_seed_fixes_weights_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model("dcgan", seed=3, width=8).generator.state_dict()
    assert torch.equal(state, torch.random.get_rng_state())
    b = build_model("dcgan", seed=3, width=8).generator.state_dict()
    c = build_model("dcgan", seed=4, width=8).generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_conditional_models_use_their_labels():
    b = build_model("cgan", seed=0, width=8)
    z = torch.randn(1, b.latent_dim).repeat(2, 1)
    b.generator.eval()
    x = b.generator(z, torch.tensor([0, 1]))
    assert not torch.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="pass labels"):
        b.generator(z)
    _logits, cls = build_model("acgan", width=8).discriminator(x, return_aux=True)
    assert cls.shape == (2, 10)


def test_infogan_latent_layout():
    b = build_model("infogan", width=8)
    assert b.latent_dim == 62 + 10 + 2
    z, y = b.sample_latent(100, torch.Generator().manual_seed(0))
    assert y is None
    codes = z[:, 62:72]
    assert torch.equal(codes.sum(1), torch.ones(100)) and set(codes.unique().tolist()) == {0, 1}
    assert z[:, 72:].abs().max() <= 1
    _logits, q = b.discriminator(b.generator(z), return_aux=True)
    assert q.shape == (100, 12)


def test_spectral_norm_bounds_the_layer_gain():
    b = build_model("hinge_sn", width=8)
    b.discriminator.train()
    x = torch.randn(8, 1, 28, 28)
    for _ in range(20):  # power iteration converges as the net runs in training mode
        b.discriminator(x)
    conv = b.discriminator.trunk[0]
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=0.05)


def test_points_and_images_for_autoencoders():
    vae = build_model("vae", data_dim=2, image_size=None, latent_dim=4)
    recon, _mu, _logvar = vae.model(torch.randn(5, 2))
    assert recon.shape == (5, 2)
    conv = build_model("conv_vae", image_size=32, channels=3, width=8)
    assert conv.model(torch.randn(2, 3, 32, 32))[0].shape == (2, 3, 32, 32)
    assert build_model("beta_vae").model.beta == 4.0
    assert build_model("dae").model.noise_std > 0


def test_bad_names_and_options_are_explained():
    with pytest.raises(
        ValueError, match=r"unknown model 'dcgn' \(did you mean 'dcgan'\?\).*wgan_gp"
    ):
        build_model("dcgn")
    with pytest.raises(ValueError, match=r"no option 'latentdim' \(did you mean 'latent_dim'"):
        build_model("dcgan", latentdim=3)
    with pytest.raises(ValueError, match="arch='mlp'"):
        build_model("dcgan", data_dim=2, image_size=None)
    with pytest.raises(ValueError, match="28, 32 or 64"):
        build_model("dcgan", image_size=30)
