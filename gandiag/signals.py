"""Names of the signals in a :class:`~gandiag.types.StepRecord`.

This is the contract between the producers (the monitor, the trainer's periodic
evaluation) and the consumers (the detectors, the dashboard, the reports). A
producer writes only names built here; a consumer reads only names built here.

``NET`` below is a network's name as given to the monitor: ``"G"`` and ``"D"`` by
default, or any names (``"G_AB"``, ``"D_scale1"``) when several are watched.
``NET`` may not contain ``"/"``.

Scalars
-------
loss/<term>                       each loss term the caller passes (``loss/G``, ``loss/D``, ``loss/D_real``)
loss/nonfinite                    number of loss terms that were NaN or Inf at this step

grad/<NET>/norm                   global L2 norm of the gradient of NET's parameters
grad/<NET>/layer/<layer>/norm     L2 norm per parameter-owning module (``layer`` is its dotted name)
grad/<NET>/nonfinite              number of non-finite gradient entries in NET
grad/<NET>/layer/<layer>/nonfinite
weight/<NET>/norm                 global L2 norm of NET's parameters
update/<NET>/ratio                ||w_t - w_{t-1}|| / ||w_{t-1}|| (update-to-weight ratio)
update/<NET>/cosine               cosine between successive update directions (rotation)

d/real/raw_mean, d/real/raw_std   discriminator (critic) raw outputs on real data
d/fake/raw_mean, d/fake/raw_std   ... on fakes
d/real/prob_mean, d/fake/prob_mean   sigmoid of the raw outputs (absent for Wasserstein critics)
d/r_t                             E[sign(D(x_real))]  (Karras et al. 2020)
d/r_v                             (E[D_train]-E[D_val]) / (E[D_train]-E[D_fake]), needs a held-out real batch
d/val/raw_mean                    raw outputs on the held-out real batch

samples/std_ratio                 mean per-feature std of fakes / of reals in the batch
samples/pdist_ratio               mean pairwise distance of fakes / of reals
samples/dup_rate                  share of fakes with a near-duplicate among the other fakes
samples/latent_sensitivity        E||G(z+d)-G(z)|| / ||d|| on a fixed probe batch

d/<NET>/real/raw_mean, .../raw_std, d/<NET>/fake/raw_mean, .../raw_std
                                  the same, per discriminator, when several are watched (dicts)

video/motion_real, video/motion_fake   mean |x_{t+1} - x_t| of real / fake clips ([B, T, C, H, W])
video/motion_ratio                motion_fake / motion_real (0: frozen video)
video/recurrence_real, video/recurrence_fake   max over lags L >= 2 of the mean correlation
                                  c(L) of the mean-removed frames t and t+L, minus c(1)
                                  (> 1: the clip loops; <= 0: it never comes back)
video/recurrence_excess           recurrence_fake - recurrence_real
video/flip_rate_real, video/flip_rate_fake   share of consecutive legible frame pairs whose
                                  glyph class (glyph classifier on a crop around the centroid)
                                  changes; absent when no pair is legible (no evidence)
video/legible_real, video/legible_fake   share of consecutive frame pairs whose two frames are
                                  legible: top-class probability at least the 5% quantile of
                                  the real frames' in the same step
video/flip_excess                 flip_rate_fake - flip_rate_real (absent when either is)
video/motion_diversity_ratio      mean pairwise distance of centroid-velocity sequences
                                  between clips of one class, fakes / reals
video/class_real/<k>, video/class_fake/<k>   number of real / fake clips of the batch whose
                                  most frequent label over their legible frames is glyph
                                  class k (clips with at least half their frames legible)

vae/recon                         reconstruction term
vae/kl                            total KL(q(z|x) || p(z)), summed over dims, mean over batch
vae/kl_dim/<j>                    KL of latent dimension j
vae/active_units                  #{j : Cov_x(E_q[z_j|x]) > 0.01} on the probe batch
vae/active_fraction               active_units / latent dims
vae/decoder_sensitivity           E||dec(z+d)-dec(z)|| / ||d||

coverage/precision, coverage/recall     improved precision/recall (k=3) of the monitor's probe fakes
                                  against its reservoir of reals, in the coverage embedding
coverage/density, coverage/coverage     density/coverage (k=5), same sets
coverage/ndb_fraction             share of k-means bins of the reals whose fake share differs (NDB/K)
coverage/bin_tv                   total-variation distance between the real and fake bin histograms
coverage/top_bin_excess           largest (fake share - real share) over the bins
coverage/top_bin_share            largest fake share in one bin
coverage/bins_missed              real mass in bins where fakes put < 1/4 of the real share
coverage/fake_shift               TV distance between the bin histograms of this and the previous
                                  evaluation's probe fakes (same latents, current bins): how far
                                  the generated distribution moved since the last evaluation

d/<NET>/real/raw_mean, d/<NET>/fake/raw_mean, d/<NET>/real/prob_mean, d/<NET>/fake/prob_mean
                                  per discriminator, when several are passed as a dict or list

eval/modes_covered                known modes with at least one high-quality sample (2-D data)
eval/num_modes                    number of known modes
eval/hq_share                     share of samples within 3 sigma of a mode centre
eval/dominant_mode                index of the most populated mode / class
eval/dominant_share               share of samples in the dominant mode / class
eval/classes_covered              glyph classes predicted for at least 1% of samples
eval/num_classes                  number of classes the classifier knows (logged with classes_covered)
eval/class_entropy                entropy (nats) of the predicted-class histogram of samples
eval/class_accuracy               class-conditional G: share of samples the classifier assigns to
                                  the class they were drawn for
eval/class_accuracy_real          the classifier's accuracy on labelled reals (its ceiling)
eval/class_consistency            (class_accuracy - chance) / (class_accuracy_real - chance): 1 as
                                  class-consistent as the data, 0 no better than chance
eval/ndb_fraction                 NDB/K (Richardson & Weiss 2018)
eval/<metric>                     any metric computed periodically (``eval/fid``, ``eval/kid``)

phase/index                       position of the current phase in the run's phase list (meta "phases")
phase/alpha                       blend weight of the current phase (fade-in alpha), when given
style/w_std                       StyleGAN: mean std of w across the batch
style/noise_share                 StyleGAN: share of image variance due to the noise inputs
style/mixing_effect               StyleGAN: |G(mix(w1,w2)) - G(w1)| / |G(w2) - G(w1)|
style/channel_spike               StyleGAN: max / median channel mean |activation| (8x8 features)
reg/r1, reg/pl_length, reg/pl_mean   lazy regulariser traces (R1, path length and its running mean)
ada/p, ada/r_t                    adaptive augmentation probability and the r_t that drives it
level/<k>/copy_ratio              LAPGAN/StackGAN: detail a level adds over the one below, fake / real
ca/kl, ca/sigma_mean              StackGAN conditioning augmentation: KL and mean sigma
ca/kl_dim/<j>                     StackGAN: KL of conditioning dimension j (batch mean)
ca/condition_nats                 StackGAN: nats needed to tell the conditions apart (log #classes)
cond/variance_share               class-conditional G: share of its samples' pixel variance the
                                  requested class explains (epsilon^2, same latents under each class)
cond/variance_share_real          the same share for labelled reals (between-class / total)
cond/within_class_spread          G's pooled within-class variance (over z, per requested class)
                                  over the reals' within-class variance (0: one image per class)
cond/d_match_gap                  conditional D: mean logit on reals with their class minus with another

Histograms
----------
d/real/prob, d/fake/prob          histograms of sigmoid(D) on real and fake (raw critic values for WGAN)
vae/kl_dim                        (stored as scalars ``vae/kl_dim/<j>``; no histogram)
"""

from __future__ import annotations

from collections.abc import Iterable

LOSS_NONFINITE = "loss/nonfinite"

D_REAL_RAW_MEAN = "d/real/raw_mean"
D_REAL_RAW_STD = "d/real/raw_std"
D_FAKE_RAW_MEAN = "d/fake/raw_mean"
D_FAKE_RAW_STD = "d/fake/raw_std"
D_REAL_PROB_MEAN = "d/real/prob_mean"
D_FAKE_PROB_MEAN = "d/fake/prob_mean"
D_VAL_RAW_MEAN = "d/val/raw_mean"
D_RT = "d/r_t"
D_RV = "d/r_v"
HIST_D_REAL = "d/real/prob"
HIST_D_FAKE = "d/fake/prob"

SAMPLES_STD_RATIO = "samples/std_ratio"
SAMPLES_PDIST_RATIO = "samples/pdist_ratio"
SAMPLES_DUP_RATE = "samples/dup_rate"
SAMPLES_LATENT_SENSITIVITY = "samples/latent_sensitivity"

VIDEO_MOTION_REAL = "video/motion_real"
VIDEO_MOTION_FAKE = "video/motion_fake"
VIDEO_MOTION_RATIO = "video/motion_ratio"
VIDEO_RECURRENCE_REAL = "video/recurrence_real"
VIDEO_RECURRENCE_FAKE = "video/recurrence_fake"
VIDEO_RECURRENCE_EXCESS = "video/recurrence_excess"
VIDEO_COHERENCE_REAL = "video/coherence_real"
VIDEO_COHERENCE_FAKE = "video/coherence_fake"
VIDEO_COHERENCE_RATIO = "video/coherence_ratio"
VIDEO_FLIP_REAL = "video/flip_rate_real"
VIDEO_FLIP_FAKE = "video/flip_rate_fake"
VIDEO_FLIP_EXCESS = "video/flip_excess"
VIDEO_LEGIBLE_REAL = "video/legible_real"
VIDEO_LEGIBLE_FAKE = "video/legible_fake"
VIDEO_MOTION_DIVERSITY = "video/motion_diversity_ratio"

VAE_RECON = "vae/recon"
VAE_KL = "vae/kl"
VAE_ACTIVE_UNITS = "vae/active_units"
VAE_ACTIVE_FRACTION = "vae/active_fraction"
VAE_DECODER_SENSITIVITY = "vae/decoder_sensitivity"

COVERAGE_PRECISION = "coverage/precision"
COVERAGE_RECALL = "coverage/recall"
COVERAGE_DENSITY = "coverage/density"
COVERAGE_COVERAGE = "coverage/coverage"
COVERAGE_NDB = "coverage/ndb_fraction"
COVERAGE_BIN_TV = "coverage/bin_tv"
COVERAGE_TOP_BIN_EXCESS = "coverage/top_bin_excess"
COVERAGE_TOP_BIN_SHARE = "coverage/top_bin_share"
COVERAGE_BINS_MISSED = "coverage/bins_missed"
COVERAGE_FAKE_SHIFT = "coverage/fake_shift"

EVAL_MODES_COVERED = "eval/modes_covered"
EVAL_NUM_MODES = "eval/num_modes"
EVAL_HQ_SHARE = "eval/hq_share"
EVAL_DOMINANT_MODE = "eval/dominant_mode"
EVAL_DOMINANT_SHARE = "eval/dominant_share"
EVAL_CLASSES_COVERED = "eval/classes_covered"
EVAL_NUM_CLASSES = "eval/num_classes"
EVAL_CLASS_ENTROPY = "eval/class_entropy"
EVAL_CLASS_ACCURACY = "eval/class_accuracy"
EVAL_CLASS_ACCURACY_REAL = "eval/class_accuracy_real"
EVAL_CLASS_CONSISTENCY = "eval/class_consistency"
EVAL_NDB_FRACTION = "eval/ndb_fraction"
#: a video run's held-out clips against real ones (gandiag.train.video_eval): motion
#: ratio, recurrence excess (looping) and temporal coherence ratio (flicker)
EVAL_MOTION_RATIO = "eval/motion_ratio"
EVAL_RECURRENCE_EXCESS = "eval/recurrence_excess"
EVAL_COHERENCE_RATIO = "eval/coherence_ratio"

PHASE_INDEX = "phase/index"
PHASE_ALPHA = "phase/alpha"
STYLE_W_STD = "style/w_std"
STYLE_NOISE_SHARE = "style/noise_share"
STYLE_MIXING_EFFECT = "style/mixing_effect"
STYLE_CHANNEL_SPIKE = "style/channel_spike"
REG_R1 = "reg/r1"
REG_PL_LENGTH = "reg/pl_length"
REG_PL_MEAN = "reg/pl_mean"
ADA_P = "ada/p"
ADA_RT = "ada/r_t"
CA_KL = "ca/kl"
CA_SIGMA_MEAN = "ca/sigma_mean"
CA_CONDITION_NATS = "ca/condition_nats"
COND_VARIANCE_SHARE = "cond/variance_share"
COND_VARIANCE_SHARE_REAL = "cond/variance_share_real"
COND_D_MATCH_GAP = "cond/d_match_gap"
COND_WITHIN_CLASS_SPREAD = "cond/within_class_spread"


def ca_kl_dim(j: int) -> str:
    return f"ca/kl_dim/{int(j)}"


def level_copy_ratio(level: int) -> str:
    return f"level/{int(level)}/copy_ratio"


def loss(term: str) -> str:
    return f"loss/{_check(term)}"


def grad_norm(net: str) -> str:
    return f"grad/{_check(net)}/norm"


def grad_layer_norm(net: str, layer: str) -> str:
    return f"grad/{_check(net)}/layer/{layer}/norm"


def grad_nonfinite(net: str) -> str:
    return f"grad/{_check(net)}/nonfinite"


def grad_layer_nonfinite(net: str, layer: str) -> str:
    return f"grad/{_check(net)}/layer/{layer}/nonfinite"


def weight_norm(net: str) -> str:
    return f"weight/{_check(net)}/norm"


def update_ratio(net: str) -> str:
    return f"update/{_check(net)}/ratio"


def update_cosine(net: str) -> str:
    return f"update/{_check(net)}/cosine"


def d_net(net: str, which: str, stat: str) -> str:
    """One discriminator's output summary: ``d/<NET>/<real|fake>/<raw_mean|prob_mean>``."""
    return f"d/{_check(net)}/{which}/{stat}"


def d_nets(names: Iterable[str]) -> list[str]:
    """Discriminators with per-network output summaries in ``names`` (sorted)."""
    out = set()
    for n in names:
        parts = n.split("/")
        if len(parts) == 4 and parts[0] == "d" and parts[2] in ("real", "fake"):
            out.add(parts[1])
    return sorted(out)


def video_class_real(k: int) -> str:
    return f"video/class_real/{int(k)}"


def video_class_fake(k: int) -> str:
    return f"video/class_fake/{int(k)}"


def vae_kl_dim(j: int) -> str:
    return f"vae/kl_dim/{int(j)}"


def eval_metric(name: str) -> str:
    return f"eval/{_check(name)}"


def nets_with_prefix(names: Iterable[str], kind: str) -> list[str]:
    """Names of the networks that have a ``grad/<NET>/norm`` series and start with ``kind``.

    >>> nets_with_prefix({"grad/G/norm", "grad/D_a/norm", "loss/G"}, "D")
    ['D_a']
    """
    nets = []
    for n in names:
        parts = n.split("/")
        if (
            len(parts) == 3
            and parts[0] == "grad"
            and parts[2] == "norm"
            and parts[1].startswith(kind)
        ):
            nets.append(parts[1])
    return sorted(nets)


def _check(name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"signal component {name!r} must be non-empty and contain no '/'")
    return name
