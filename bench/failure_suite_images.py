"""Glyph cases of the failure suite: VAE posterior collapse, and D overfitting on 50 images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from failure_suite import (
    GLYPH_CONFIGS,
    GLYPH_EVAL_EVERY,
    VAE_CONFIGS,
    VAE_EVAL_EVERY,
    Case,
    CaseResult,
    label_glyph,
    label_vae,
)

from gandiag.data.glyphs import make_glyphs
from gandiag.monitor import Cadence, Monitor
from gandiag.reference_models import build_model

VAE_LATENT = 8
VAE_WARMUP = 200  # posterior collapse is judged from this step on (the detector's warm-up)


def glyph_tensor(n: int, seed: int) -> torch.Tensor:
    x, _ = make_glyphs(n, seed=seed)
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0).unsqueeze(
        1
    )  # [n,1,28,28] in [-1,1]


def train_vae(case: Case, run_dir: Path) -> CaseResult:
    cfg = dict(VAE_CONFIGS[case.config])
    pull = cfg.pop("pull", None)
    cfg.pop("steps", None)  # the case length (build_cases), not a model setting
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    train = glyph_tensor(2000, seed=case.seed)
    xs, ys = make_glyphs(2000, seed=case.seed)
    target = torch.from_numpy(xs[ys == 3].astype(np.float32).mean(0) / 127.5 - 1.0)[None]
    from gandiag.features import load_glyph_classifier

    classifier = load_glyph_classifier()
    prior_rng = torch.Generator().manual_seed(90_000 + case.seed)  # outcomes only
    held_out = glyph_tensor(1000, seed=50_000 + case.seed)  # outcomes only
    held_classes = torch.from_numpy(make_glyphs(1000, seed=50_000 + case.seed)[1])
    vae = build_model("vae", latent_dim=VAE_LATENT, hidden=128, seed=case.seed, **cfg).model
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    mon = Monitor(
        run_dir,
        model=vae,
        config={"case": case.name, **cfg},
        name=case.name,
        cadence=Cadence(samples=20, layers=50, grid=0, flush=50, coverage=VAE_EVAL_EVERY),
        seed=case.seed,
        quiet=True,
    )
    o: dict[str, list] = {
        "step": [],
        "active_units": [],
        "kl_heldout": [],
        "dead_share": [],
        "dominant_class_share": [],
        "recon_class_acc": [],
    }
    with mon:
        for step in range(case.steps):
            x = train[torch.randint(0, len(train), (64,), generator=gen)]
            recon, mu, logvar = vae(x, generator=gen)
            nll, kl = vae.loss_terms(x, recon, mu, logvar)
            loss = nll + vae.beta * kl.sum()
            if pull is not None and step >= pull[0]:
                # the decoder learns to draw `share` of the prior as one glyph
                zp = torch.randn(64, VAE_LATENT, generator=gen)
                zp = zp[zp[:, 0] < torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(pull[1]))]
                if len(zp):
                    loss = loss + 10.0 * (vae.decode(zp) - target).pow(2).sum() / 64
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            mon.step(
                step,
                losses={"vae": loss, "recon": nll, "kl": kl.sum()},
                mu=mu.detach(),
                logvar=logvar.detach(),
                inputs=x,
                recon=recon.detach(),
            )
            if step % VAE_EVAL_EVERY == 0:
                with torch.no_grad():
                    m, lv = vae.encode(held_out)
                    kl_dim = 0.5 * (m.pow(2) + lv.exp() - 1 - lv).mean(0)
                    au = int((m.var(0) > 0.01).sum())
                o["step"].append(step)
                o["active_units"].append(au)
                o["kl_heldout"].append(float(kl_dim.sum()))
                o["dead_share"].append(1 - au / VAE_LATENT)
                with torch.no_grad():
                    samples = vae.decode(torch.randn(1000, VAE_LATENT, generator=prior_rng))
                    pred = classifier.logits(samples.reshape(-1, 1, 28, 28)).argmax(1)
                counts = np.bincount(pred.numpy(), minlength=10)
                o["dominant_class_share"].append(float(counts.max() / counts.sum()))
                with torch.no_grad():  # can the classifier read this decoder's outputs?
                    rec = vae.decode(m).reshape(-1, 1, 28, 28)
                    named = classifier.logits(rec).argmax(1) == held_classes
                o["recon_class_acc"].append(float(named.double().mean()))
    labels, ambiguous = label_vae(o, VAE_WARMUP)
    return CaseResult(
        case=_case(case),
        steps_run=case.steps,
        eval_every=VAE_EVAL_EVERY,
        labels=labels,
        ambiguous=ambiguous,
        alerts=[],
        outcomes=o,
        signals={},
    )


def train_glyph_gan(case: Case, run_dir: Path) -> CaseResult:
    cfg = GLYPH_CONFIGS[case.config]
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    train = glyph_tensor(cfg["train_images"], seed=case.seed).flatten(1)
    val = glyph_tensor(512, seed=60_000 + case.seed).flatten(1)  # the monitor's held-out batch pool
    held_out = glyph_tensor(1000, seed=70_000 + case.seed).flatten(1)  # outcomes only
    bundle = build_model(
        "mlp_gan", data_dim=784, latent_dim=32, hidden=cfg.get("hidden", 256), seed=case.seed
    )
    G, D = bundle.generator, bundle.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.get("lr_d", 2e-4), betas=(0.5, 0.999))
    mon = Monitor(
        run_dir,
        generator=G,
        discriminator=D,
        loss="bce",
        config={"case": case.name, **cfg},
        name=case.name,
        cadence=Cadence(samples=20, layers=50, grid=0, flush=50, coverage=GLYPH_EVAL_EVERY),
        seed=case.seed,
        quiet=True,
    )
    o: dict[str, list] = {
        "step": [],
        "r_v_large": [],
        "d_train": [],
        "d_heldout": [],
        "d_fake": [],
        "dominant_class_share": [],  # of 1,000 fresh samples, by the glyph classifier
        "confident_share": [],  # samples the classifier names with probability >= 0.9
        "confident_dominant_share": [],  # the dominant class's share among those
        "train_class_share": [],  # the same share in the training images (the reference)
    }
    from gandiag.features import load_glyph_classifier

    classifier = load_glyph_classifier()
    sample_rng = torch.Generator().manual_seed(80_000 + case.seed)  # outcomes only
    with torch.no_grad():
        train_pred = classifier.logits(train[:1000].reshape(-1, 1, 28, 28)).argmax(1)
    train_share = float(np.bincount(train_pred.numpy(), minlength=10).max() / len(train_pred))
    bs = 64
    with mon:
        for step in range(case.steps):
            x = train[torch.randint(0, len(train), (bs,), generator=gen)]
            z = torch.randn(bs, 32, generator=gen)
            fake = G(z)
            dr, df = D(x).reshape(-1), D(fake.detach()).reshape(-1)
            loss_d = F.softplus(-dr).mean() + F.softplus(df).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            dfg = D(fake).reshape(-1)
            loss_g = F.softplus(-dfg).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            with torch.no_grad():
                dv = D(val[torch.randint(0, len(val), (bs,), generator=gen)]).reshape(-1)
            mon.step(
                step,
                losses={"G": loss_g, "D": loss_d},
                d_real=dr.detach(),
                d_fake=dfg.detach(),
                real=x,
                fake=fake.detach(),
                d_val=dv,
            )
            if step % GLYPH_EVAL_EVERY == 0:
                with torch.no_grad():
                    a = float(D(train[:1000]).mean())
                    b = float(D(held_out).mean())
                    c = float(D(G(torch.randn(1000, 32, generator=gen))).mean())
                o["step"].append(step)
                o["d_train"].append(a)
                o["d_heldout"].append(b)
                o["d_fake"].append(c)
                o["r_v_large"].append((a - b) / (a - c) if abs(a - c) > 1e-6 else math.nan)
                with torch.no_grad():
                    samples = G(torch.randn(1000, 32, generator=sample_rng))
                    prob = classifier.logits(samples.reshape(-1, 1, 28, 28)).softmax(1)
                counts = np.bincount(prob.argmax(1).numpy(), minlength=10)
                o["dominant_class_share"].append(float(counts.max() / counts.sum()))
                sure = prob.max(1).values >= 0.9
                o["confident_share"].append(float(sure.double().mean()))
                named = np.bincount(prob.argmax(1)[sure].numpy(), minlength=10)
                o["confident_dominant_share"].append(
                    float(named.max() / named.sum()) if named.sum() else math.nan
                )
                o["train_class_share"].append(train_share)
    labels, ambiguous = label_glyph(o)
    return CaseResult(
        case=_case(case),
        steps_run=case.steps,
        eval_every=GLYPH_EVAL_EVERY,
        labels=labels,
        ambiguous=ambiguous,
        alerts=[],
        outcomes=o,
        signals={},
    )


def _case(case: Case) -> dict:
    return {"family": case.family, "config": case.config, "seed": case.seed, "steps": case.steps}
