"""A cheap probe of StyleGAN-lite's sample diversity: the family stepper alone, no Monitor.

Trains ``stylegan`` on glyphs with :class:`gandiag.train.stylegan_step.StyleGANStepper`
(the loop ``bench/growing_families.py`` runs, without the Monitor and the style probes) and
every ``--every`` steps measures, on 256 fixed latents, the diversity of fresh samples of
the raw generator and of its EMA (mean pairwise distance over that of 256 held-out reals,
as the growing-families bench's outcome), the fakes' mean-image orientation over the reals'
and D's mean score on the step's reals and fakes; every R1 value is kept. It also records
the spread of w across the latents, the spread of the convolutions' styles over their mean
size, and the style affines' mean bias and row norm; D's minibatch-stddev statistic on a
training-size batch of reals and of fakes and how far D's score on the fakes moves when
they get the reals' statistic (does D use it?); the mean cosine between D's input
gradients across fakes and across reals (does D push every sample the same way?).
``--grid-dir`` saves a grid of 48 fresh samples over 16 held-out reals at every
measurement, to check the number by eye. ``--lr-d`` and ``--betas`` change the optimisers;
``--diagnostic`` applies a change to G that is not the reference (``latent_input``: a 4x4
input that depends on w; ``affine_bias_zero``: style affines with bias 0; ``progan_synthesis``: a ProGAN
generator fed with w in place of the style synthesis; ``no_noise``: no noise inputs; ``no_styles``: styles that do not depend on w; ``pixel_norm``: ProGAN's pixel norm
after every style layer). ``--model progan`` runs the
progressive-growing loop through the same measurements (those of the styles skipped).
Used to diagnose the loss of diversity of the reference StyleGAN-lite (docs/benchmarks.md,
growing_families).
Not a benchmark: no table of its own, no label.

    python bench/stylegan_diversity_probe.py --steps 500 --json /tmp/probe.json
    python bench/stylegan_diversity_probe.py --lr 0.001 --options '{"mixing_prob": 0}'
    python bench/stylegan_diversity_probe.py --steps 500 --grid-dir /tmp/grids \
        --model-options '{"resample": "fir", "d_architecture": "resnet"}'
    python bench/stylegan_diversity_probe.py --steps 500 --model-options '{"mbstd_group": 0}'
    python bench/stylegan_diversity_probe.py --steps 500 --diagnostic latent_input
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import write_json


def _pdist(x: torch.Tensor) -> float:
    return float(torch.pdist(x.flatten(1).double()).mean())


def _orientation(x: torch.Tensor) -> float:
    m = x.double().mean(0)
    turns = [torch.rot90(m, k, dims=(-2, -1)) for k in range(4)]
    return float((m - torch.stack(turns + [t.flip(-1) for t in turns]).mean(0)).norm())


def _style_spread(G: torch.nn.Module, w: torch.Tensor) -> dict[str, float]:
    """The conv layers' styles across latents: their spread over their mean size
    (``style_spread``: how much the per-channel scales still depend on z; 0: every sample
    gets the same styles), the spread and mean size themselves, and the part of the mean
    the affine weights make from the mean of w (``style_from_mean_w``)."""
    stats: dict[str, list[float]] = {k: [] for k in ("spread", "std", "mean", "from_mean_w")}
    for layer in G.synthesis.layers:
        a = layer.conv.affine
        s = a(w)
        std, mean = float(s.std(0).mean()), float(s.mean(0).abs().mean())
        stats["spread"].append(std / mean)
        stats["std"].append(std)
        stats["mean"].append(mean)
        shared = torch.nn.functional.linear(w.mean(0), a.weight * a.scale)
        stats["from_mean_w"].append(float(shared.abs().mean()))
    return {
        "style_spread": float(np.mean(stats["spread"])),
        "style_std": float(np.mean(stats["std"])),
        "style_mean": float(np.mean(stats["mean"])),
        "style_from_mean_w": float(np.mean(stats["from_mean_w"])),
    }


def _style_affines(G: torch.nn.Module) -> tuple[float, float]:
    """Mean |bias| and mean row norm of the conv layers' style affines (effective values):
    the constant part of the styles and how strongly w moves them."""
    biases, gains = [], []
    for layer in G.synthesis.layers:
        a = layer.conv.affine
        biases.append(float((a.bias * a.lr_mul).detach().abs().mean()))
        gains.append(float((a.weight * a.scale).detach().norm(dim=1).mean()))
    return float(np.mean(biases)), float(np.mean(gains))


def _input_spread(G: torch.nn.Module) -> float:
    """How many input channels each output channel of the style convolutions draws on:
    the participation ratio ``(sum_i e_i)^2 / sum_i e_i^2`` of the energies ``e_i`` of its
    weights per input channel, over the number of input channels (1: every input channel
    alike, 1/C: one). A demodulated output that draws on one input channel ignores that
    channel's style (the scale cancels), so a falling value means styles that count less."""
    ratios = []
    for layer in G.synthesis.layers:
        e = layer.conv.weight.detach().double().square().sum(dim=(2, 3))  # [out, in]
        ratios.append(float((e.sum(1).square() / e.square().sum(1)).mean() / e.shape[1]))
    return float(np.mean(ratios))


def _rgb_contributions(G: torch.nn.Module, z: torch.Tensor) -> dict[str, list[float]]:
    """What each toRGB layer adds to the image, 4x4 first (Karras et al. 2020, Fig. 8 of
    the StyleGAN2 paper: a skip generator leans on the low resolutions early): the std of
    its output over samples and pixels (``rgb_std``) and the mean over pixels of its std
    across samples (``rgb_sample_std``: how much of the samples' differences it carries)."""
    outs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outs.append(o)) for m in G.synthesis.to_rgb]
    G(z)
    for h in hooks:
        h.remove()
    return {
        "rgb_std": [float(o.std()) for o in outs],
        "rgb_sample_std": [float(o.std(0).mean()) for o in outs],
    }


def _latent_input(G: torch.nn.Module, seed: int) -> None:
    """Diagnostic, not the reference: G's 4x4 input becomes the learned constant plus a
    linear map of the first layer's w, so the input itself depends on the latent."""
    from gandiag.reference_models.progan import EqualizedLinear
    from gandiag.reference_models.stylegan import SynthesisNetwork

    class LatentInputSynthesis(SynthesisNetwork):
        def input(self, ws: torch.Tensor) -> torch.Tensor:
            shape = (ws.shape[0], *self.const.shape)
            return self.const[None] + self.input_map(ws[:, 0]).reshape(shape)

    syn = G.synthesis
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        syn.input_map = EqualizedLinear(G.w_dim, syn.const.numel())
    syn.__class__ = LatentInputSynthesis  # a class swap, so the EMA's deep copy keeps it


def _affine_bias_zero(G: torch.nn.Module, seed: int) -> None:
    """Diagnostic, not the reference: the conv layers' style affines start with bias 0
    (the reference's 1), so the styles start as pure functions of w with no shared part."""
    with torch.no_grad():
        for layer in G.synthesis.layers:
            layer.conv.affine.bias.zero_()


class _ProGANSynthesis(torch.nn.Module):
    """A ProGAN generator at full resolution in place of the style synthesis: it reads the
    first layer's w as its latent (so the mapping network stays in front), has no styles,
    no noise inputs and pixel norm after every convolution."""

    def __init__(self, w_dim: int, image_size: int, channels: int, width: int) -> None:
        super().__init__()
        from gandiag.reference_models.progan import ProGANGenerator

        self.net = ProGANGenerator(w_dim, image_size, channels, width)

    def forward(self, ws: torch.Tensor, noise: Any = None) -> torch.Tensor:
        return self.net(ws[:, 0])


def _progan_synthesis(G: torch.nn.Module, seed: int) -> None:
    """Diagnostic, not the reference: G's synthesis becomes a ProGAN generator of the same
    width fed with w (mixing then has no effect: every crossover keeps w[0]), to tell the
    style path apart from what the loop, D and the data do."""
    syn = G.synthesis
    width = syn.const.shape[0]
    size = 4 * 2 ** (syn.levels - 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G.synthesis = _ProGANSynthesis(G.w_dim, size, syn.to_rgb[0].weight.shape[0], width)


def _no_noise(G: torch.nn.Module, seed: int) -> None:
    """The reference's ``use_noise=False``: no per-pixel noise inputs in any layer."""
    from gandiag.reference_models.stylegan import StyleLayer

    class NoNoiseLayer(StyleLayer):
        def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Any) -> torch.Tensor:
            return super().forward(x, w, None)

    for layer in G.synthesis.layers:
        layer.__class__ = NoNoiseLayer  # a class swap, so the EMA's deep copy keeps it


def _no_styles(G: torch.nn.Module, seed: int) -> None:
    """Diagnostic, not the reference: every style (convolutions and toRGB) is its affine's
    bias alone, learned but the same for every sample, so w no longer reaches the synthesis
    through the styles (with ``latent_input`` it still reaches the 4x4 input)."""
    from gandiag.reference_models.progan import EqualizedLinear

    class BiasOnly(EqualizedLinear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (self.bias * self.lr_mul).expand(x.shape[0], -1)

    for conv in [layer.conv for layer in G.synthesis.layers] + list(G.synthesis.to_rgb):
        conv.affine.__class__ = BiasOnly  # a class swap, so the EMA's deep copy keeps it


def _pixel_norm(G: torch.nn.Module, seed: int) -> None:
    """Diagnostic, not the reference: ProGAN's pixel norm after every style layer's
    activation (activations normalised per pixel, which demodulation does not do)."""
    from gandiag.reference_models.stylegan import StyleLayer

    class PixelNormLayer(StyleLayer):
        def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Any) -> torch.Tensor:
            y = super().forward(x, w, noise)
            return y * torch.rsqrt(y.pow(2).mean(dim=1, keepdim=True) + 1e-8)

    for layer in G.synthesis.layers:
        layer.__class__ = PixelNormLayer  # a class swap, so the EMA's deep copy keeps it


#: diagnostic changes to the built generator, by name (``--diagnostic``)
DIAGNOSTICS = {
    "latent_input": _latent_input,
    "affine_bias_zero": _affine_bias_zero,
    "progan_synthesis": _progan_synthesis,
    "no_noise": _no_noise,
    "no_styles": _no_styles,
    "pixel_norm": _pixel_norm,
}


def _mbstd_use(D: torch.nn.Module, reals: torch.Tensor, fakes: torch.Tensor) -> dict[str, float]:
    """D's minibatch-stddev statistic on a training-size batch of reals and of fakes, and
    how much D's mean score on the fakes moves when their statistic is replaced by the
    reals' (``mbstd_score_shift``; 0: D ignores the statistic). Empty without the layer."""
    if getattr(D, "mbstd", None) is None:
        return {}
    seen: dict[str, torch.Tensor] = {}

    def grab(_m: Any, _i: Any, out: torch.Tensor) -> None:
        seen["stat"] = out[:, -1].mean()

    hook = D.mbstd.register_forward_hook(grab)
    score_fake = D(fakes).mean()
    stat_fake = seen["stat"]
    D(reals)
    stat_real = seen["stat"]
    hook.remove()

    def swap(_m: Any, _i: Any, out: torch.Tensor) -> torch.Tensor:
        out = out.clone()
        out[:, -1] = stat_real
        return out

    hook = D.mbstd.register_forward_hook(swap)
    shift = D(fakes).mean() - score_fake
    hook.remove()
    return {
        "mbstd_real": float(stat_real),
        "mbstd_fake": float(stat_fake),
        "mbstd_score_shift": float(shift),
    }


def _grad_alignment(D: torch.nn.Module, x: torch.Tensor) -> float:
    """Mean pairwise cosine between D's input gradients ``d score / d x`` of the samples
    of ``x``: near 1, D pushes every sample the same way (the one direction G then follows)."""
    with torch.enable_grad():
        v = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(D(v).sum(), v)
    g = torch.nn.functional.normalize(g.flatten(1).double(), dim=1)
    cos = g @ g.T
    n = cos.shape[0]
    return float((cos.sum() - n) / (n * (n - 1)))


def _save_grid(path: Path, fakes: torch.Tensor, reals: torch.Tensor) -> None:
    """Six rows of fresh samples over two rows of held-out reals, to look at by eye."""
    from gandiag.images import grid_png

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(grid_png(torch.cat([fakes[:48], reals]).numpy(), nrow=8, min_size=512))


def probe(
    *,
    steps: int,
    every: int,
    seed: int,
    batch: int,
    n: int,
    lr: float | None,
    lr_d: float | None = None,
    betas: tuple[float, float] | None = None,
    diagnostics: tuple[str, ...] = (),
    options: dict[str, Any],
    model_options: dict[str, Any],
    grid_dir: str | None = None,
    model: str = "stylegan",
) -> dict[str, Any]:
    import dataclasses

    from gandiag.data import load_dataset
    from gandiag.reference_models import build_model
    from gandiag.train.family import stepper_class
    from gandiag.train.trainer import Batches

    torch.set_num_threads(1)
    ds = load_dataset("glyphs", n=n, image_size=32, seed=seed)
    bundle = build_model(model, seed=seed, **model_options)
    for name in diagnostics:
        DIAGNOSTICS[name](bundle.generator, seed)
    batches = Batches(ds, np.arange(len(ds)), batch, torch.device("cpu"), seed)
    t = bundle.training

    def make_opt(params, which):
        rate = (lr_d if which == "d" else None) or lr or t[f"lr_{which}"]
        return torch.optim.Adam(params, lr=rate, betas=tuple(betas or t["betas"]))

    cls = stepper_class(t["stepper"])
    # StyleGAN-lite's in-loop style probes are off: the probe measures on its own latents
    quiet = (
        {"probe_every": 0}
        if "probe_every" in {f.name for f in dataclasses.fields(cls.Settings)}
        else {}
    )
    stepper = cls(
        bundle,
        {**quiet, **options},
        make_opt,
        batches,
        torch.Generator().manual_seed(seed),
        contextlib.nullcontext,
    )
    held = load_dataset("glyphs", n=256, image_size=32, seed=50_000 + seed)
    reals = torch.from_numpy(held.array.copy()).float() / 127.5 - 1
    z = torch.randn(256, bundle.latent_dim, generator=torch.Generator().manual_seed(10_000 + seed))
    ref_div, ref_orient = _pdist(reals), _orientation(reals)
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows, r1 = [], []
    for step in range(steps):
        out = stepper.step(step)
        if "reg/r1" in out.get("scalars", {}):
            r1.append([step, out["scalars"]["reg/r1"]])
        if step % every and step != steps - 1:
            continue
        with torch.no_grad():
            fakes = bundle.generator(z)
            row = {
                "step": step,
                "diversity": _pdist(fakes) / ref_div,
                "orientation": _orientation(fakes) / ref_orient,
                "d_real": float(out["d_real"].mean()),
                "d_fake": float(out["d_fake"].mean()),
            }
            if stepper.ema is not None:
                row["ema_diversity"] = _pdist(stepper.ema.module(z)) / ref_div
            if hasattr(bundle.generator, "map"):  # a mapping network: the spread of w
                w = bundle.generator.map(z)
                row["w_spread"] = float(w.std(0).mean())
            if hasattr(getattr(bundle.generator, "synthesis", None), "layers"):  # styles
                row.update(_style_spread(bundle.generator, w))
                row["style_bias"], row["style_gain"] = _style_affines(bundle.generator)
                row["input_spread"] = _input_spread(bundle.generator)
                row.update(_rgb_contributions(bundle.generator, z))
            row.update(_mbstd_use(bundle.discriminator, reals[:batch], fakes[:batch]))
            row["d_grad_cos_fake"] = _grad_alignment(bundle.discriminator, fakes[:batch])
            row["d_grad_cos_real"] = _grad_alignment(bundle.discriminator, reals[:batch])
        if grid_dir is not None:
            _save_grid(Path(grid_dir) / f"step{step:05d}.png", fakes[:64], reals[:16])
        rows.append(row)
        print(json.dumps({k: np.round(v, 3).tolist() for k, v in row.items()}), flush=True)
    return {
        "rows": rows,
        "r1": r1,
        "wall_s": time.perf_counter() - started,
        "load_avg_1min": [load, os.getloadavg()[0]],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--n", type=int, default=2048, help="training glyphs")
    p.add_argument(
        "--model",
        default="stylegan",
        help="registered model with a family stepper (progan: the pieces it shares with "
        "StyleGAN-lite under another G and loss; the style measurements are skipped)",
    )
    p.add_argument("--lr", type=float, default=None, help="both optimisers (default: the model's)")
    p.add_argument("--lr-d", type=float, default=None, help="D's optimiser only (over --lr)")
    p.add_argument("--betas", type=float, nargs=2, default=None, help="Adam's (default: model's)")
    p.add_argument(
        "--diagnostic",
        action="append",
        default=[],
        choices=sorted(DIAGNOSTICS),
        help="a diagnostic change to G (not the reference), repeatable",
    )
    p.add_argument("--options", default="{}", help="[gan.options] of the stepper, as JSON")
    p.add_argument("--model-options", default="{}", help="options of the model, as JSON")
    p.add_argument("--grid-dir", default=None, help="save a sample grid at every measurement")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    res = probe(
        steps=args.steps,
        every=args.every,
        seed=args.seed,
        batch=args.batch,
        n=args.n,
        lr=args.lr,
        lr_d=args.lr_d,
        betas=None if args.betas is None else (args.betas[0], args.betas[1]),
        diagnostics=tuple(args.diagnostic),
        options=json.loads(args.options),
        model_options=json.loads(args.model_options),
        grid_dir=args.grid_dir,
        model=args.model,
    )
    write_json(args.json, {"benchmark": "stylegan_diversity_probe", "args": vars(args), **res})
    last = res["rows"][-1]
    print(
        f"stylegan diversity probe: step {last['step']}: diversity {last['diversity']:.3f} "
        f"(EMA {last.get('ema_diversity', float('nan')):.3f}), {res['wall_s']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
