"""The steganography outcome of the translation evaluation on constructed CycleGAN pairs."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gandiag.reference_models.translation import TranslationBundle
from gandiag.train.translation_eval import evaluate_translation, halfres_quantise

_SPEC = importlib.util.spec_from_file_location(
    "translation_suite", Path(__file__).resolve().parents[2] / "bench" / "translation_suite.py"
)
suite = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(suite)


def coarse(x):
    return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")


class Hide(nn.Module):
    """G: the coarse image plus its detail at ``eps`` amplitude (invisible to a viewer)."""

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return coarse(x) + self.eps * (x - coarse(x))


class Reveal(nn.Module):
    """F: reads the hidden detail back, amplified by 1 / ``eps``."""

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, y):
        return coarse(y) + (y - coarse(y)) / self.eps


class Negate(nn.Module):
    def forward(self, x):
        return -x


def _held(x):
    labels = torch.zeros(len(x), dtype=torch.long)
    # 8 px images: the glyph classifier (28 px) is skipped
    return SimpleNamespace(
        x=x, y=x, labels_x=labels, labels_y=labels, paired=False, task="translation"
    )


def _bundle(g_ab, g_ba):
    # a cycle-consistent pair under other names than CycleGAN's: the evaluation finds the
    # inverse from the bundle's declared inverses, not from the model's or networks' names
    return TranslationBundle(
        name="my_cycle",
        kind="translation",
        latent_dim=0,
        options={},
        training={},
        generator=g_ab,
        task="unpaired",
        generators={"G_AB": g_ab, "G_BA": g_ba},
        inverses={"G_AB": "G_BA", "G_BA": "G_AB"},
    )


def _g_ab(scalars):
    prefix = "eval/G_AB_"
    return {"eval/G_" + k[len(prefix) :]: v for k, v in scalars.items() if k.startswith(prefix)}


def test_a_hidden_detail_signal_is_labelled_and_an_honest_inverse_is_not():
    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    hidden, _ = evaluate_translation(_bundle(Hide(0.05), Reveal(0.05)), _held(x), [], 0)
    out = Hide(0.05)(x)
    change = (halfres_quantise(out) - out).abs().mean()
    assert abs(hidden["eval/G_AB_halfres_change"] - float(change)) < 1e-6
    assert hidden["eval/G_AB_cycle_l1"] < 1e-5  # the cycle closes through the hidden detail
    growth = hidden["eval/G_AB_cycle_l1_halfres"] - hidden["eval/G_AB_cycle_l1"]
    assert growth > 5 * hidden["eval/G_AB_halfres_change"]
    assert suite.outcome_labels(_g_ab(hidden)) == {"steganography"}

    # an honest translation (negation, inverted back) of images the save keeps: nothing hidden
    blocks = torch.round((coarse(x) + 1) * 127.5) / 127.5 - 1
    honest, _ = evaluate_translation(_bundle(Negate(), Negate()), _held(blocks), [], 0)
    assert honest["eval/G_AB_halfres_change"] < 1e-6
    assert "steganography" not in suite.outcome_labels(_g_ab(honest))


def test_the_probe_reads_the_labels_save():
    from gandiag.monitor.translation import TranslationProbe

    x = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ev, _ = evaluate_translation(_bundle(Hide(0.05), Reveal(0.05)), _held(x), [], 0)
    probe = TranslationProbe(x, x, paired=False).signals("G_AB", Hide(0.05), Reveal(0.05))
    assert probe["translation/G_AB/cycle_l1_halfres"] == pytest.approx(
        ev["eval/G_AB_cycle_l1_halfres"], rel=1e-5
    )
    gain = (ev["eval/G_AB_cycle_l1_halfres"] - ev["eval/G_AB_cycle_l1"]) / ev[
        "eval/G_AB_halfres_change"
    ]
    assert probe["translation/G_AB/halfres_gain"] == pytest.approx(gain, rel=1e-4)


def test_fid_and_kid_of_a_translation_carry_bootstrap_intervals():
    # as the image GANs' evaluation does: a comparison of two runs then tells a difference
    # beyond the held-out set's noise from one within it
    g = torch.Generator().manual_seed(0)
    x = torch.rand(160, 1, 28, 28, generator=g) * 2 - 1  # more samples than features
    y = torch.rand(160, 1, 28, 28, generator=g) * 2 - 1
    held = SimpleNamespace(
        x=x,
        y=y,
        labels_x=torch.arange(160) % 10,
        labels_y=torch.arange(160) % 10,
        paired=True,
        task="paired",
    )
    bundle = TranslationBundle(
        name="p",
        kind="translation",
        latent_dim=0,
        options={},
        training={},
        task="paired",
        generators={"G": torch.nn.Identity()},
    )
    _, results = evaluate_translation(bundle, held, ["fid", "kid"], 7)
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"G_fid", "G_kid"}
    for r in by_name.values():
        assert r.step == 7 and r.interval is not None and r.interval[0] <= r.interval[1]
