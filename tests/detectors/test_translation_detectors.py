"""Translation detectors on synthetic probe streams, and the probe signals on constructed nets."""

import pytest
import torch
from torch import nn
from translation_streams import FAULTS
from translation_streams import translation_stream as stream

from gandiag.detectors import build_detectors, default_detectors
from gandiag.detectors.translation import TRANSLATION_DETECTORS
from gandiag.monitor.translation import TranslationProbe
from gandiag.types import Severity


def run(dets, records):
    return [a for r in records for d in dets for a in d.update(r)]


def test_healthy_stream_raises_nothing():
    for seed in range(5):
        alerts = run(build_detectors(TRANSLATION_DETECTORS), stream(seed=seed))
        assert alerts == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_detector_fires_on_its_failure_only(fault):
    alerts = run(build_detectors(TRANSLATION_DETECTORS), stream(fault, at=600))
    assert {a.detector for a in alerts} == {fault}
    (a,) = alerts  # once per generator, and only the failing one
    assert a.onset_step == 600 and 600 < a.step <= 800
    assert "threshold" in a.evidence and a.remedies
    assert "G_AB" in a.diagnosis
    assert a.severity in (Severity.WARNING, Severity.CRITICAL)


def test_warmup_hides_early_states_and_state_round_trips():
    early = stream("identity_mapping", at=0, steps=250)
    assert run(build_detectors(["identity_mapping"]), early) == []
    recs = stream("identity_mapping", at=600)
    d1 = build_detectors(["identity_mapping"])[0]
    first = run([d1], recs[:13])
    d2 = build_detectors(["identity_mapping"])[0]
    d2.load_state_dict(d1.state_dict())
    assert first == [] and len(run([d2], recs[13:])) == 1


def test_content_lost_only_where_the_classifier_reads_the_output_domain():
    recs = stream("content_lost", at=600)
    for r in recs:
        r.scalars["translation/G_AB/target_class_acc"] = 0.2  # e.g. a coarse domain
    assert run(build_detectors(["content_lost"]), recs) == []
    for r in recs:
        r.scalars["translation/G_AB/target_class_acc"] = 0.95
    (a,) = run(build_detectors(["content_lost"]), recs)
    assert a.evidence["target_class_acc"] == 0.95


def test_translation_defaults_include_gan_and_translation_detectors():
    names = [d.name for d in default_detectors("translation")]
    assert set(TRANSLATION_DETECTORS) <= set(names) and "mode_collapse" in names
    assert "d_overfitting" not in names  # no held-out D batch in the translation loop


# -- the probe signals on networks whose behaviour is known by construction ----------------
class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn, self.w = fn, nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.fn(x)


def _data(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, 28, 28, generator=g) > 0.7).float() * 2 - 1
    t = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    return x, t


def test_probe_identity_inversion_and_collapse():
    x, t = _data()
    p = TranslationProbe(x, t, paired=False)
    ident = p.signals("G", Fn(lambda v: v))
    assert ident["translation/G/identity_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert ident["translation/G/input_corr"] == pytest.approx(1.0, abs=1e-5)
    inv = p.signals("G", Fn(lambda v: -v))
    assert inv["translation/G/input_corr"] == pytest.approx(-1.0, abs=1e-5)
    const = p.signals("G", Fn(lambda v: torch.zeros_like(v) + 0.3))
    assert const["translation/G/output_diversity"] == pytest.approx(0.0, abs=1e-6)


def test_probe_steganography_gain_separates_hidden_from_smooth_cycles():
    x, t = _data()
    c = torch.zeros(1, 1, 28, 28)
    hide = Fn(lambda v: c + 0.01 * v)  # the input hidden at 1% amplitude
    reveal = Fn(lambda y: (y - c) / 0.01)
    s = TranslationProbe(x, t, paired=False).signals("G_AB", hide, reveal)
    assert s["translation/G_AB/cycle_l1"] == pytest.approx(0.0, abs=1e-4)
    assert s["translation/G_AB/noise_gain"] > 50  # the perturbation is amplified ~100x
    smooth = TranslationProbe(x, t, paired=False).signals("G_AB", Fn(lambda v: v), Fn(lambda v: v))
    assert smooth["translation/G_AB/noise_gain"] < 1.01


def test_probe_sr_gain_and_class_kept():
    hr = torch.rand(8, 1, 28, 28) * 2 - 1
    lr = torch.nn.functional.avg_pool2d(hr, 4)
    labels = torch.zeros(8, dtype=torch.long)
    p = TranslationProbe(lr, hr, paired=True, labels=labels, super_resolution=True)
    oracle = p.signals("G", Fn(lambda v: hr))
    assert oracle["translation/G/psnr_gain"] > 5 and oracle["translation/G/ssim_gain"] > 0
    assert oracle["translation/G/target_l1"] == pytest.approx(0.0, abs=1e-6)
    bicubic = p.signals("G", Fn(lambda v: p.x_ref))
    assert bicubic["translation/G/psnr_gain"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 <= oracle["translation/G/class_kept"] <= 1.0


def test_probe_noise_diversity_only_with_dropout_and_leaves_modes():
    x, t = _data()
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Dropout(0.5), nn.Conv2d(4, 1, 3, padding=1)
    )
    net.train()
    s = TranslationProbe(x, t, paired=True).signals("G", net)
    assert s["translation/G/noise_diversity"] > 0.05
    assert net.training and net[1].training  # modes restored
    s2 = TranslationProbe(x, t, paired=True).signals("G", Fn(lambda v: v))
    assert "translation/G/noise_diversity" not in s2


def test_probe_domain_progress_runs_from_the_input_domain_to_the_output_domain():
    x, t = _data()
    p = TranslationProbe(x, t, paired=False)
    copy = p.signals("G", Fn(lambda v: v))["translation/G/domain_progress"]
    assert copy == pytest.approx(0.0, abs=1e-6)
    # outputs with the target domain's intensities (whatever the image)
    target_like = p.signals("G", Fn(lambda v: t[: len(v)]))["translation/G/domain_progress"]
    assert target_like == pytest.approx(1.0, abs=1e-6)
    even = (torch.arange(len(x)) % 2 == 0).view(-1, 1, 1, 1)
    half = p.signals("G", Fn(lambda v: torch.where(even, v, t[: len(v)])))  # half translated
    assert 0.2 < half["translation/G/domain_progress"] < 0.8
    # domains whose intensities are alike: the signal is undefined, so absent
    alike = TranslationProbe(x, x.flip(0), paired=False).signals("G", Fn(lambda v: v))
    assert "translation/G/domain_progress" not in alike and "translation/G/input_corr" in alike


def test_probe_blur_gain_separates_hidden_from_visible_cycles():
    x, t = _data()
    c = torch.zeros(1, 1, 28, 28)
    hide = Fn(lambda v: c + 0.01 * v)  # x hidden at 1% amplitude: a blur changes G(x) by ~1%
    reveal = Fn(lambda y: (y - c) / 0.01)
    s = TranslationProbe(x, t, paired=False).signals("G_AB", hide, reveal)
    assert s["translation/G_AB/blur_gain"] > 50
    assert s["translation/G_AB/halfres_gain"] > 50  # the save removes it as the blur does
    same = TranslationProbe(x, t, paired=False).signals("G_AB", Fn(lambda v: v), Fn(lambda v: v))
    assert same["translation/G_AB/blur_gain"] == pytest.approx(1.0, abs=1e-4)  # a copy: 1x
    assert same["translation/G_AB/halfres_gain"] == pytest.approx(1.0, abs=1e-4)
    from gandiag.monitor.translation import gaussian_blur

    smooth = TranslationProbe(x, t, paired=False).signals(
        "G_AB", Fn(lambda v: v), Fn(gaussian_blur)
    )
    assert smooth["translation/G_AB/blur_gain"] < 1.0  # a smoothing inverse damps the change


def test_gaussian_blur_keeps_constants_and_mass():
    from gandiag.monitor.translation import gaussian_blur

    flat = torch.full((2, 3, 10, 10), 0.3)
    assert torch.allclose(gaussian_blur(flat), flat, atol=1e-6)
    dot = torch.zeros(1, 1, 15, 15)
    dot[0, 0, 7, 7] = 1.0
    out = gaussian_blur(dot)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5) and out.max() < 0.2


def test_identity_needs_outputs_near_their_own_inputs():
    # a broken generator whose outputs have the input domain's intensities but not its images
    recs = stream("identity_mapping", at=600)
    for r in recs:
        if r.step >= 600:
            r.scalars["translation/G_AB/identity_ratio"] = 2.3
    assert run(build_detectors(["identity_mapping"]), recs) == []


def test_steganography_needs_a_generator_that_left_its_input_domain():
    # a pair of near-copies passes a blur's change through (gain ~1) and hides nothing
    recs = stream("steganography", at=600)
    for r in recs:
        if r.step >= 600:
            r.scalars["translation/G_AB/domain_progress"] = 0.2
    assert run(build_detectors(["steganography"]), recs) == []
    for r in recs:  # where the domains' intensities are alike the progress is not measured
        r.scalars.pop("translation/G_AB/domain_progress", None)
    (a,) = run(build_detectors(["steganography"]), recs)
    assert a.evidence["blur_gain"] == 1.4


# -- content and spread as the glyph classifier reads them ---------------------------------
def _glyphs(n=40, seed=3):
    import numpy as np

    from gandiag.data.glyphs import make_glyphs

    x, y = make_glyphs(n, seed=seed)
    return torch.tensor(np.asarray(x), dtype=torch.float32)[:, None] / 127.5 - 1, torch.tensor(
        np.asarray(y)
    )


def test_largest_share_and_effective_classes():
    from gandiag.monitor.translation import _effective_classes, _largest_share

    assert _largest_share(torch.tensor([3, 3, 3, 1, 2])) == pytest.approx(0.6, rel=1e-9)
    assert _effective_classes(torch.tensor([4, 4, 4])) == pytest.approx(1.0, rel=1e-6)
    assert _effective_classes(torch.tensor([0, 1, 2, 3] * 5)) == pytest.approx(4.0, rel=1e-6)


def test_probe_class_signals_separate_kept_content_from_noise_read_as_one_class():
    x, y = _glyphs()
    p = TranslationProbe(x, x.clone(), paired=True, labels=y)
    copy = p.signals("G", Fn(lambda v: v))
    assert copy["translation/G/class_kept"] > 0.9
    assert copy["translation/G/class_diversity"] == pytest.approx(1.0, rel=1e-6)
    share = float(torch.bincount(y).max()) / len(y)
    assert copy["translation/G/class_chance"] == pytest.approx(share, rel=1e-9)
    # input-independent salt-and-pepper noise: more pixel spread than the targets, but the
    # classifier reads every image as one class (its default for non-glyphs)
    g = torch.Generator().manual_seed(0)
    noise = p.signals("G", Fn(lambda v: (torch.rand(v.shape, generator=g) > 0.5).float() * 2 - 1))
    assert noise["translation/G/output_diversity"] > 1.0
    assert noise["translation/G/class_diversity"] < 0.25
    assert noise["translation/G/class_kept"] <= noise["translation/G/class_chance"] + 1e-9
    # the outputs' own class count: the copy reads as many classes as its legible inputs,
    # the noise under two; class_diversity is that count over the targets'
    assert copy["translation/G/classes_out"] > 5.0
    assert noise["translation/G/classes_out"] < 2.0
    for out in (copy, noise):
        targets = out["translation/G/classes_out"] / out["translation/G/class_diversity"]
        assert targets == pytest.approx(copy["translation/G/classes_out"], rel=1e-6)


def test_content_lost_at_the_chance_of_a_constant_output_above_the_floor():
    # 5 of 32 probe inputs share a class: a constant output read as it keeps 5/32 = 0.156
    recs = stream("content_lost", at=600)
    for r in recs:
        r.scalars["translation/G_AB/class_chance"] = 5 / 32
        if r.step >= 600:
            r.scalars["translation/G_AB/class_kept"] = 5 / 32
    (a,) = run(build_detectors(["content_lost"]), recs)
    assert a.evidence["threshold"] > 5 / 32 and a.evidence["class_chance"] == 5 / 32
    for r in recs:  # one input more than chance is content the output carries
        if r.step >= 600:
            r.scalars["translation/G_AB/class_kept"] = 6 / 32
    assert run(build_detectors(["content_lost"]), recs) == []


def test_collapse_in_classes_where_pixels_still_differ_only_where_the_domain_is_legible():
    recs = stream(None)
    for r in recs:
        if r.step >= 600:
            r.scalars["translation/G_AB/output_diversity"] = 2.0  # noise: large pixel spread
            r.scalars["translation/G_AB/class_diversity"] = 0.11  # one class of ~9
            r.scalars["translation/G_AB/classes_out"] = 1.0
            r.scalars["translation/G_AB/target_class_acc"] = 0.9
    (a,) = run(build_detectors(["translation_collapse"]), recs)
    assert a.evidence["classes_out"] == 1.0  # the count beside the ratio
    assert a.onset_step == 600 and a.evidence["class_diversity"] == 0.11
    assert a.severity is Severity.CRITICAL
    for r in recs:  # a domain the classifier cannot read: its class spread says nothing
        r.scalars["translation/G_AB/target_class_acc"] = 0.2
    assert run(build_detectors(["translation_collapse"]), recs) == []


def test_collapse_in_classes_needs_fewer_than_two_kinds_of_output():
    """Targets read as ten classes: outputs of 2.2 classes are under a quarter of them, but
    "one output for all" (the benchmark's label: at most 2 effective classes) they are not;
    1.5 classes are."""
    recs = stream(None)
    for r in recs:
        if r.step >= 600:
            r.scalars["translation/G_AB/class_diversity"] = 0.22
            r.scalars["translation/G_AB/classes_out"] = 2.2
            r.scalars["translation/G_AB/target_class_acc"] = 0.9
    assert run(build_detectors(["translation_collapse"]), recs) == []
    for r in recs:
        if r.step >= 600:
            r.scalars["translation/G_AB/class_diversity"] = 0.15
            r.scalars["translation/G_AB/classes_out"] = 1.5
    (a,) = run(build_detectors(["translation_collapse"]), recs)
    assert a.onset_step == 600 and a.evidence["classes_out"] == 1.5
    for r in recs:  # a record stored before classes_out was logged: the ratio judges
        if r.step >= 600:
            r.scalars["translation/G_AB/class_diversity"] = 0.22
            del r.scalars["translation/G_AB/classes_out"]
    (a,) = run(build_detectors(["translation_collapse"]), recs)
    assert a.onset_step == 600


def _class_stream(kept, diversity, chance=6 / 32):
    """A healthy stream whose G_AB reads ``kept``/``diversity`` at the probes from step 200."""
    recs = stream(None)
    for r in recs:
        i = (r.step - 200) // 50
        if 0 <= i < len(kept):
            r.scalars["translation/G_AB/class_kept"] = kept[i]
            r.scalars["translation/G_AB/class_diversity"] = diversity[i]
        r.scalars["translation/G_AB/class_chance"] = chance
        r.scalars["translation/G_AB/target_class_acc"] = 1.0
    return recs


def test_class_signals_need_persistence_not_a_bound():
    """A fixed batch of 32 probe inputs reads class shares to +-0.06-0.10 (binomial; measured
    over held-out batches). Healthy translators still learning cross below the thresholds at
    the first probes after warm-up and rise (pix2pix class kept 0.12 at step 200, 0.28 at
    250, 0.59 at 300): persistence keeps them quiet. Failing ones sit at chance, within one
    standard error of it (0.09-0.16 against 6/32): a bound would need them 2 errors below,
    so the detectors compare the point estimate, over 3 probes in a row."""
    dets = ["content_lost", "translation_collapse"]
    learning = _class_stream(kept=[0.12, 0.28, 0.59], diversity=[0.24, 0.52, 0.9])
    assert run(build_detectors(dets), learning) == []
    at_chance = _class_stream(kept=[0.16, 0.09, 0.12, 0.16] * 10, diversity=[0.9] * 40)
    (a,) = run(build_detectors(dets), at_chance)
    assert a.detector == "content_lost" and (a.onset_step, a.step) == (200, 300)
    one_class = _class_stream(kept=[0.6] * 40, diversity=[0.22, 0.13, 0.24, 0.15] * 10)
    (a,) = run(build_detectors(dets), one_class)
    assert a.detector == "translation_collapse" and (a.onset_step, a.step) == (200, 300)


# -- steganography: a family of perturbations, read as its largest gain --------------------
@pytest.mark.parametrize("member", ["blur_gain", "fine_blur_gain", "noise_gain"])
def test_steganography_alerts_on_any_member_of_its_perturbation_family(member):
    recs = stream(None)
    for r in recs:
        if r.step >= 600:
            r.scalars[f"translation/G_AB/{member}"] = 1.4
    (a,) = run(build_detectors(["steganography"]), recs)
    assert a.onset_step == 600 and a.evidence[member] == 1.4
    assert a.evidence["threshold"] == 0.5 and "G_AB" in a.diagnosis


def test_steganography_never_reads_the_labels_half_resolution_save():
    # halfres_gain is the benchmark label's perturbation: evidence only, never the trigger
    recs = stream(None)
    for r in recs:
        r.scalars["translation/G_AB/halfres_gain"] = 3.0
    assert run(build_detectors(["steganography"]), recs) == []


def test_steganography_reads_older_records_without_the_newer_members():
    recs = stream("steganography", at=600)
    for r in recs:
        r.scalars.pop("translation/G_AB/fine_blur_gain")
        r.scalars.pop("translation/G_AB/noise_gain")
    (a,) = run(build_detectors(["steganography"]), recs)
    assert a.evidence["blur_gain"] == 1.4 and "fine_blur_gain" not in a.evidence


def test_probe_gains_of_a_copy_are_one_for_every_perturbation():
    # x has a background at -1, where the noise is clamped: the noise gain is read per unit
    # of the change G(x) actually receives, so a copy passes on exactly all of it
    x, t = _data()
    copy = TranslationProbe(x, t, paired=False).signals("G_AB", Fn(lambda v: v), Fn(lambda v: v))
    for member in ("blur_gain", "fine_blur_gain", "noise_gain"):
        assert copy[f"translation/G_AB/{member}"] == pytest.approx(1.0, abs=1e-4), member


def test_probe_fine_blur_reads_a_pixel_scale_signal_the_wider_blur_dilutes():
    # G: a visible image with 4 px blocks (sharp edges) plus x hidden at 5% on a checkerboard
    # (the finest scale); F demodulates the checkerboard. A 1 px blur also softens the
    # visible edges, which F ignores, so its change passes on less per unit than a 0.5 px
    # blur's, which changes little but the finest scale
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    up = lambda v, k: F.interpolate(v, scale_factor=k, mode="nearest")
    x = up((torch.rand(16, 1, 14, 14, generator=g) > 0.5).float() * 2 - 1, 2)
    visible = up((torch.rand(16, 1, 7, 7, generator=g) > 0.5).float() * 2 - 1, 4)
    i = torch.arange(28)
    checker = ((i[:, None] + i[None, :]) % 2 * 2 - 1).float()
    hide = Fn(lambda v: visible[: len(v)] + 0.05 * checker * v)
    reveal = Fn(lambda y: up(F.avg_pool2d(y * checker, 2), 2) / 0.05)
    s = TranslationProbe(x, visible, paired=False).signals("G_AB", hide, reveal)
    assert s["translation/G_AB/cycle_l1"] == pytest.approx(0.0, abs=1e-5)
    assert s["translation/G_AB/fine_blur_gain"] > 1.2 * s["translation/G_AB/blur_gain"]


# -- content_lost: the pooled share of its last probes ---------------------------------------
def _kept_stream(kept, chance=0.1, acc=None):
    """A healthy stream whose G_AB keeps ``kept[i]`` of classes at the i-th probe from step
    200 (balanced probe: chance 0.1); ``acc[i]``: the classifier's accuracy on real targets."""
    recs = stream(None)
    for r in recs:
        i = (r.step - 200) // 50
        if 0 <= i < len(kept):
            r.scalars["translation/G_AB/class_kept"] = kept[i]
        r.scalars["translation/G_AB/class_chance"] = chance
        r.scalars["translation/G_AB/target_class_acc"] = (
            acc[i] if acc is not None and 0 <= i < len(acc) else 1.0
        )
    return recs


def test_content_lost_pools_its_last_probes_against_the_threshold():
    # a generator whose true share sits between chance (0.1) and the floor (0.15): single
    # probes of 30 outputs scatter around the floor (never three below it in a row), their
    # pooled share is under it (the cycle 0.133, 0.167, 0.067, 0.2 averages 0.142)
    kept = [4 / 30, 5 / 30, 2 / 30, 6 / 30] * 8
    assert not any(all(k < 0.15 for k in kept[i : i + 3]) for i in range(len(kept) - 2))
    (a,) = run(build_detectors(["content_lost"]), _kept_stream(kept))
    assert (a.onset_step, a.step) == (200, 300)
    assert a.evidence["class_kept"] == pytest.approx(11 / 90)
    assert a.evidence["probes_pooled"] == 3 and a.evidence["class_kept@250"] == 5 / 30


def test_content_lost_pooling_keeps_one_low_probe_and_a_learning_transient_quiet():
    dip = [0.6, 0.0, 0.4] + [0.6] * 30  # one probe at 0: pooled 0.33
    learning = [0.1, 0.1, 0.3, 0.6] + [0.7] * 30  # pooled 0.17, then higher
    for kept in (dip, learning):
        assert run(build_detectors(["content_lost"]), _kept_stream(kept)) == []


def test_content_lost_pools_only_consecutive_probes_of_a_legible_domain():
    # an illegible probe (the classifier reads under half of real targets) between low
    # ones starts the window again: the alert waits for three legible probes in a row
    kept = [0.1] * 40
    acc = [1.0, 1.0, 0.2, 1.0, 1.0, 1.0] + [1.0] * 34
    (a,) = run(build_detectors(["content_lost"]), _kept_stream(kept, acc=acc))
    assert (a.onset_step, a.step) == (350, 450)


# -- steganography: the median of its last probes ------------------------------------------
def _gain_stream(gains, member="fine_blur_gain"):
    """A healthy stream whose G_AB reads ``gains[i]`` for ``member`` at the i-th probe from
    step 200 (the other members stay at their healthy values, under 0.1)."""
    recs = stream(None)
    for r in recs:
        i = (r.step - 200) // 50
        if 0 <= i < len(gains):
            r.scalars[f"translation/G_AB/{member}"] = gains[i]
    return recs


def test_steganography_confirms_on_two_of_three_probes():
    # a hiding pair whose gain wanders around the line: never three crossings in a row,
    # but two in every three probes from step 250 (the first crossing is the onset)
    gains = [0.3, 0.59, 0.66, 0.43, 0.56, 0.53, 0.25] * 4
    assert not any(all(g > 0.5 for g in gains[i : i + 3]) for i in range(len(gains) - 2))
    (a,) = run(build_detectors(["steganography"]), _gain_stream(gains))
    assert (a.onset_step, a.step) == (250, 300)
    assert a.evidence["hiding_gain"] == pytest.approx(0.59)
    assert a.evidence["probes_pooled"] == 3 and a.evidence["hiding_gain@300"] == 0.66


def test_steganography_ignores_one_high_probe_that_a_mean_would_count():
    # one probe at 1.5 among honest ones: the mean of three (0.57) crosses, the median not
    spikes = ([0.06, 1.5, 0.15] + [0.06] * 5) * 4
    assert run(build_detectors(["steganography"]), _gain_stream(spikes)) == []


@pytest.mark.parametrize(
    "name,stream_of,saved_version",
    [
        ("content_lost", lambda: _kept_stream([0.1] * 40), 1),  # version 1: before pooling
        ("steganography", lambda: _gain_stream([1.4] * 40), None),  # unversioned
    ],
)
def test_pooled_state_round_trips_mid_window_and_reads_a_state_saved_before_pooling(
    name, stream_of, saved_version
):
    recs = stream_of()
    d1 = build_detectors([name])[0]
    assert run([d1], recs[:6]) == []  # probes 200 and 250 in the window
    d2 = build_detectors([name])[0]
    d2.load_state_dict(d1.state_dict())
    (a,) = run([d2], recs[6:])
    assert (a.onset_step, a.step) == (200, 300)
    # a state saved by the detector that asked every probe: per-net streaks, no windows
    old = d1.state_dict()
    old["version"] = saved_version
    if saved_version is None:
        old.pop("version")
    old["state"] = {"nets": {"G_AB": {"since": 200, "records": 2, "alerted": False}}}
    d3 = build_detectors([name])[0]
    d3.load_state_dict(old)
    assert d3.state_dict()["state"]["windows"] == {}
    (a,) = run([d3], recs[6:])  # it pools again from its next probes: 300, 350, 400
    assert (a.onset_step, a.step) == (300, 400)


# -- translation_collapse: a brief collapse after the generator had learned to vary ---------
def _count_stream(counts, start=50, targets=9.5, acc=1.0):
    """A healthy stream whose G_AB's probe reads ``counts[i]`` classes at the i-th probe from
    step ``start`` (targets reading ``targets`` classes; pixel spread stays healthy)."""
    recs = stream(None)
    for r in recs:
        i = (r.step - start) // 50
        if 0 <= i < len(counts):
            r.scalars["translation/G_AB/classes_out"] = counts[i]
            r.scalars["translation/G_AB/class_diversity"] = counts[i] / targets
        r.scalars["translation/G_AB/target_class_acc"] = acc
    return recs


def test_collapse_after_learning_is_confirmed_by_one_probe():
    # one class up to step 100, 4.5-7 classes by step 200, one probe at a single class at
    # 300, then back: three probes in a row would never confirm it
    counts = [1.0, 1.0, 3.0, 4.5, 6.0, 1.0, 3.1, 6.0] + [7.0] * 30
    (a,) = run(build_detectors(["translation_collapse"]), _count_stream(counts))
    assert (a.onset_step, a.step) == (300, 300)
    assert a.evidence["classes_out"] == 1.0 and a.evidence["peak_classes"] == 6.0
    assert a.evidence["spread"] == pytest.approx(1.0 / 9.5)
    assert a.evidence["probes_pooled"] == 1 and a.severity == Severity.CRITICAL


def test_a_generator_still_learning_to_vary_needs_two_of_three_probes():
    # a slow start (one class at the first probe after the warm-up, then rising) and a
    # generator that never read four classes dipping to one: one low probe confirms neither
    slow = [1.0, 1.0, 1.0, 1.0, 2.5, 4.0] + [7.0] * 30
    never_learned = [1.0, 1.0, 2.0, 3.5, 3.5, 1.0, 3.5] + [3.5] * 30
    between = [1.0, 2.0, 5.0, 6.0, 6.0, 1.8, 6.0] + [6.0] * 30  # under 2, above 1.5
    for counts in (slow, never_learned, between):
        assert run(build_detectors(["translation_collapse"]), _count_stream(counts)) == []
    # the peak must be read on a legible output domain: the same collapse where the
    # classifier cannot read the targets is judged by pixel spread alone (healthy here)
    counts = [1.0, 1.0, 3.0, 4.5, 6.0, 1.0, 3.1, 6.0] + [7.0] * 30
    illegible = _count_stream(counts, acc=0.3)
    assert run(build_detectors(["translation_collapse"]), illegible) == []


def test_collapse_that_wanders_around_the_line_is_confirmed_by_two_of_three_probes():
    # a generator that never learned to vary, its probe moving about a class around the
    # line of 2 from probe to probe: never three probes under it in a row
    counts = [1.0, 1.0, 1.5, 1.8, 2.4, 1.3, 2.4, 1.4] + [2.4, 1.4] * 15
    at_200 = counts[3:]
    assert not any(all(c < 2 for c in at_200[i : i + 3]) for i in range(len(at_200) - 2))
    (a,) = run(build_detectors(["translation_collapse"]), _count_stream(counts))
    assert (a.onset_step, a.step) == (200, 300)
    assert a.evidence["probes_pooled"] == 3
    assert a.evidence["spread@250"] == pytest.approx(0.9, rel=0.5)  # 2.4 classes: pixels
    assert a.evidence["spread"] == pytest.approx(1.8 / 9.5)  # the median probe's (step 200)
    assert a.evidence["classes_out"] == 1.3  # this probe's own count


def test_collapse_is_not_claimed_at_a_probe_that_reads_several_kinds_of_output():
    # the learning transient: one kind of output at the first two probes after the warm-up
    # (steps 200, 250), three at 300 and more after; two of the last three probes are low,
    # but the newest reads three kinds of output, so "one output for all inputs" is not
    # true at 300, and the window never holds two low probes again
    counts = [1.0, 1.0, 1.0, 1.7, 1.9, 3.2, 3.3] + [6.0] * 30
    assert run(build_detectors(["translation_collapse"]), _count_stream(counts)) == []
    # the same start with a third low probe is confirmed there, at the low probe
    counts = [1.0, 1.0, 1.0, 1.7, 1.9, 3.2, 1.4] + [1.4] * 30
    (a,) = run(build_detectors(["translation_collapse"]), _count_stream(counts))
    assert a.step == 350 and a.evidence["classes_out"] == 1.4


def test_collapse_state_keeps_the_peak_and_reads_a_state_saved_before_it():
    counts = [1.0, 1.0, 3.0, 4.5, 6.0, 1.0, 3.1, 6.0] + [7.0] * 30
    recs = _count_stream(counts)
    d1 = build_detectors(["translation_collapse"])[0]
    assert run([d1], recs[:6]) == []  # up to step 250: peak 6
    d2 = build_detectors(["translation_collapse"])[0]
    d2.load_state_dict(d1.state_dict())
    assert d2.state_dict()["state"]["peak_classes"] == {"G_AB": 6.0}
    (a,) = run([d2], recs[6:])
    assert a.step == 300
    old = d1.state_dict()  # saved before the peak and the windows were kept (unversioned)
    old.pop("version", None)
    old["state"] = {"nets": old["state"]["nets"]}
    d3 = build_detectors(["translation_collapse"])[0]
    d3.load_state_dict(old)
    assert d3.state_dict()["state"]["peak_classes"] == {}
    assert d3.state_dict()["state"]["windows"] == {}
    assert run([d3], recs[6:]) == []  # no peak known: one probe does not confirm
    old["version"] = 2  # with the peak, without windows
    old["state"] = {"nets": old["state"]["nets"], "peak_classes": {"G_AB": 6.0}}
    d4 = build_detectors(["translation_collapse"])[0]
    d4.load_state_dict(old)
    (a,) = run([d4], recs[6:])
    assert a.step == 300
