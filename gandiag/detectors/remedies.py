"""Remedies practitioners use for each failure (see REFERENCE.md, section 2), attached to alerts."""

from __future__ import annotations

from gandiag.advice import Advice


def _in_config(remedy: str, key: str) -> str:
    """``remedy`` as alerts store it; a run of the reference trainer reads it with the
    config key that applies it (gandiag.advice renders it for the run's entry point)."""
    return Advice(remedy, f"{remedy} (config: {key})").monitor


NON_SATURATING = _in_config(
    "use the non-saturating generator loss -log D(G(z)) instead of log(1 - D(G(z)))",
    'gan.loss = "nonsaturating"',
)
WGAN_GP = _in_config(
    "switch to a Wasserstein loss with gradient penalty (WGAN-GP)",
    'gan.loss = "wasserstein" with gan.gp = 10',
)
SPECTRAL_HINGE = _in_config(
    "use spectral normalisation in D with the hinge loss",
    'gan.loss = "hinge" and model.options.spectral_norm = true',
)
R1 = _in_config(
    "add an R1 (zero-centred) gradient penalty on real data to D",
    "gan.r1 = 10",
)
INSTANCE_NOISE = _in_config(
    "add instance noise or one-sided label smoothing (real label 0.9)",
    "gan.instance_noise = 0.1 or gan.label_smoothing = 0.1",
)
TTUR_LOWER_LR = _in_config(
    "lower the learning rates or use TTUR (D lr > G lr, e.g. 4e-4 / 1e-4)",
    "optim.lr_d = 4e-4, optim.lr_g = 1e-4",
)
LOWER_LR = _in_config(
    "lower the learning rate (and check the optimiser's betas/momentum)",
    "optim.lr_g / optim.lr_d (or optim.lr) and optim.betas",
)
FEWER_D_STEPS = _in_config(
    "take fewer D steps per G step or weaken D",
    "gan.d_steps",
)
UNROLLED = _in_config(
    "unroll the discriminator (unrolled GAN) or use minibatch discrimination / PacGAN",
    "gan.unrolled_steps = 5",
)
AUGMENT = "use more data or differentiable augmentation (ADA / DiffAugment)"
RESTART = _in_config(
    "restart from the last healthy checkpoint",
    'policy.on_critical = "rollback" (or gandiag doctor RUN)',
)
GRAD_CLIP = "clip gradient norms and check for a missing normalisation or constraint on the critic"
CHECK_INPUTS = "check the batch and the loss for log(0), division by zero or bad inputs"
CHECK_OPTIMIZER = (
    "check that optimizer.step() runs, the learning rate is not 0 and parameters require grad"
)
KL_ANNEAL = _in_config(
    "anneal the KL weight from 0 up to 1 (KL annealing)",
    "vae.kl_anneal_steps, e.g. 1000",
)
FREE_BITS = _in_config(
    "use free bits or a KL floor per latent dimension",
    "vae.free_bits, e.g. 0.5",
)
WEAKER_DECODER = (
    "weaken the decoder or learn its output variance (a fixed large sigma invites collapse)"
)
FEWER_LATENTS = _in_config(
    "lower beta, or use fewer latent dimensions if the dead ones are not needed",
    "vae.beta, model.options.latent_dim",
)

VANISHING = (NON_SATURATING, WGAN_GP, INSTANCE_NOISE, FEWER_D_STEPS, SPECTRAL_HINGE)
MODE_COLLAPSE = (UNROLLED, R1, TTUR_LOWER_LR, FEWER_D_STEPS, SPECTRAL_HINGE, RESTART)
NON_CONVERGENCE = (R1, TTUR_LOWER_LR, SPECTRAL_HINGE, UNROLLED, NON_SATURATING)
EXPLODING = (GRAD_CLIP, WGAN_GP, SPECTRAL_HINGE, LOWER_LR, RESTART)
NONFINITE = (RESTART, LOWER_LR, CHECK_INPUTS, GRAD_CLIP)
D_OVERFITTING = (AUGMENT, R1, INSTANCE_NOISE, RESTART)
POSTERIOR_COLLAPSE = (KL_ANNEAL, FREE_BITS, WEAKER_DECODER, FEWER_LATENTS)
STALLED = (CHECK_OPTIMIZER, RESTART)
BALANCE_DISCRIMINATORS = (
    "weaken the saturated discriminator (lower its learning rate or loss weight, add "
    "spectral normalisation or an R1 penalty to it)"
)
DISCRIMINATOR_IMBALANCE = (BALANCE_DISCRIMINATORS, NON_SATURATING, INSTANCE_NOISE, FEWER_D_STEPS)
