"""Every remedy a registered detector names is either a doctor remedy or advice only, and
family remedies follow what each run's loop resolved, never its model's name."""

from __future__ import annotations

import pytest
from _named import remedies_named

from gandiag.detectors.base import DETECTORS
from gandiag.doctor.remedies import ADVICE_ONLY, CATALOG, Remedy, remedies_for


def test_every_registered_detector_is_in_the_catalog():
    missing = sorted(set(DETECTORS.names()) - set(CATALOG))
    assert missing == [], f"detectors doctor does not know: {missing}"


def test_every_remedy_a_detector_names_is_tried_or_explicitly_advice_only():
    named = remedies_named()
    assert len(named) == len(DETECTORS.names())
    gaps = []
    for detector, texts in named.items():
        # signal names are collected too (evidence keys); remedies are sentences
        for text in sorted(t for t in texts if " " in t):
            answered = any(text in r.answers for r in CATALOG.get(detector, ()))
            if not answered and text not in ADVICE_ONLY:
                gaps.append((detector, text))
    assert gaps == []


def test_the_walk_finds_the_remedies_of_each_style():
    named = remedies_named()  # a module tuple, a class attribute and a nested tuple
    assert any("non-saturating" in t for t in named["vanishing_gradients"])
    assert any("identity weight" in t for t in named["identity_mapping"])
    assert any("linear toRGB" in t for t in named["transition_instability"])
    assert any("its own learning rate" in t for t in named["level_copy"])


def test_each_catalogued_remedy_answers_an_alert_text():
    for detector, remedies in CATALOG.items():
        for r in remedies:
            assert isinstance(r, Remedy) and r.answers, (detector, r.name)


def _cfg(model, resolved, **options):
    return {
        "model": {"name": model},
        "resolved": resolved,
        "model_options": options,
        "data": {"batch_size": 32},
        "seed": 3,
    }


@pytest.mark.parametrize(
    ("detector", "cfg", "expected"),
    [
        (
            "transition_instability",
            _cfg(
                "progan",
                {
                    "loss": "wasserstein",
                    "fade_steps": 300,
                    "reset_optimizer": True,
                    "alpha_schedule": "linear",
                    "d_steps": 1,
                    "gp": 10.0,
                },
                output="tanh",
                image_size=32,
            ),
            ["linear_output", "longer_fade", "lower_lr"],
        ),
        (
            "fade_in",
            _cfg(
                "progan",
                {"loss": "wasserstein", "fade_steps": 300, "alpha_schedule": "truncated"},
                output="linear",
            ),
            ["linear_fade", "longer_fade"],
        ),
        (
            "w_collapse",
            _cfg("stylegan", {"loss": "nonsaturating", "map_weight_decay": 0.02}, map_lr_mul=0.01),
            ["mapping_no_decay"],
        ),
        (
            "non_convergence",
            _cfg(
                "stylegan",
                {"loss": "nonsaturating", "r1_gamma": 0.0, "lr_g": 2e-3, "lr_d": 2e-3},
                image_size=32,
            ),
            ["ttur", "lower_lr", "r1_gamma"],
        ),
        (
            "level_copy",
            _cfg("lapgan", {"loss": "nonsaturating", "residual_scale": 0.0}),
            ["full_residuals"],
        ),
        (
            "level_copy",
            _cfg("stackgan", {"loss": "nonsaturating", "kl_weight": 2.0}, detail_scale=0.0),
            ["stage2_detail"],
        ),
        (
            "ca_collapse",
            _cfg("stackgan", {"loss": "nonsaturating", "kl_weight": 0.0}, ca=False),
            ["conditioning_augmentation"],
        ),
        (
            "ca_collapse",
            _cfg("stackgan", {"loss": "nonsaturating", "kl_weight": 2.0}),
            ["lower_ca_kl"],
        ),
        (
            "frozen_video",
            _cfg(
                "dvdgan",
                {"loss": "hinge", "d_steps": 1, "lr_d_t": None},
                temporal=False,
                frames=8,
                k_frames=4,
            ),
            ["temporal_d"],
        ),
        (
            "frozen_video",
            _cfg(
                "dvdgan",
                {"loss": "hinge", "d_steps": 1, "lr_d_t": 0.0, "lr_d": 5e-4},
                temporal=True,
                frames=8,
                k_frames=4,
            ),
            ["temporal_d_lr"],
        ),
        (
            "class_concentration",
            _cfg(
                "dvdgan",
                {"loss": "hinge", "d_steps": 1, "lr_d_t": None, "lr_g": 4e-4, "lr_d": 4e-4},
                temporal=False,
                latent_bn=False,
                frames=8,
                k_frames=4,
            ),
            ["temporal_d", "latent_bn", "ttur", "lower_lr"],
        ),
        (
            "identity_mapping",
            _cfg("cyclegan", {"loss": "lsgan", "lambda_identity": 5.0, "lambda_cycle": 10.0}),
            ["lower_identity", "raise_d_lr"],
        ),
        (
            "colour_inversion",
            _cfg("cyclegan", {"loss": "lsgan", "lambda_identity": 0.0}, init_gain=0.5),
            ["identity_loss", "smaller_init", "lower_lr"],
        ),
        (
            "colour_inversion",  # pix2pix has no identity loss: the weight is not its own
            _cfg("pix2pix", {"loss": "nonsaturating", "lambda_identity": 0.0}, init_gain=0.02),
            ["lower_lr"],
        ),
        (
            "sr_no_gain",
            _cfg("srgan", {"loss": "nonsaturating", "pretrain_steps": 0, "lambda_adv": 0.1}),
            ["pretrain", "lower_adv", "lower_lr"],
        ),
        (
            "translation_collapse",
            _cfg(
                "pix2pix", {"loss": "nonsaturating", "lambda_l1": 0.0, "lr_g": 2e-4, "lr_d": 2e-4}
            ),
            ["raise_l1", "ttur", "lower_lr"],
        ),
        (
            "d_overfitting",
            _cfg(
                "dcgan",
                {
                    "loss": "nonsaturating",
                    "ada": False,
                    "r1": 0.0,
                    "gp": 0.0,
                    "instance_noise": 0.0,
                    "real_label": 1.0,
                },
                image_size=32,
            ),
            ["ada", "r1_penalty", "instance_noise", "label_smoothing"],
        ),
        (
            "d_overfitting",  # 2-D points: no image augmentation
            _cfg(
                "mlp_gan",
                {
                    "loss": "nonsaturating",
                    "ada": False,
                    "r1": 0.0,
                    "gp": 0.0,
                    "instance_noise": 0.0,
                    "real_label": 1.0,
                },
                data_dim=2,
            ),
            ["r1_penalty", "instance_noise", "label_smoothing"],
        ),
    ],
)
def test_applicability_follows_the_runs_settings(detector, cfg, expected):
    assert [r.name for r in remedies_for(detector, cfg)] == expected


def test_family_settings_go_through_gan_options():
    fam = _cfg("stylegan", {"loss": "nonsaturating", "r1_gamma": 0.0}, image_size=32)
    assert remedies_for("non_convergence", fam)[-1].apply(fam)["gan"]["options"] == {
        "r1_gamma": pytest.approx(0.0002 * 32 * 32 / 32, rel=1e-12)
    }
    pro = _cfg("progan", {"loss": "wasserstein", "d_steps": 2})
    fewer = next(r for r in CATALOG["vanishing_gradients"] if r.name == "fewer_d_steps")
    assert fewer.apply(pro)["gan"]["options"] == {"d_steps": 1}
    dc = _cfg("dcgan", {"loss": "nonsaturating", "d_steps": 2})
    assert fewer.apply(dc)["gan"] == {"d_steps": 1}
