"""2-D ring cases of the failure suite: training loop with the Monitor, and outcomes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from failure_suite import (
    RING_CONFIGS,
    RING_EVAL_EVERY,
    Case,
    CaseResult,
    effective_modes,
    label_ring,
)

from gandiag.data.toy2d import ring
from gandiag.monitor import Cadence, Monitor
from gandiag.reference_models import build_model

OUTCOME_SAMPLES = 2000
EVAL_SAMPLES = 256  # the cheap periodic evaluation logged to the monitor (as gandiag.train does)


def d_loss(kind: str, dr: torch.Tensor, df: torch.Tensor) -> torch.Tensor:
    if kind == "wgan":
        return df.mean() - dr.mean()
    return F.softplus(-dr).mean() + F.softplus(df).mean()


def g_loss(kind: str, df: torch.Tensor) -> torch.Tensor:
    if kind == "wgan":
        return -df.mean()
    if kind == "sat":
        return -F.softplus(df).mean()  # log(1 - D(G(z))), minimised
    return F.softplus(-df).mean()  # -log D(G(z))


def pull_share(pull: tuple | None, step: int) -> float:
    """Share of latents pulled onto one mode at ``step`` (see RING_CONFIGS)."""
    if not pull:
        return 0.0
    start, ramp_end, share = pull[:3]
    end = pull[3] if len(pull) > 3 else None
    if step < start or (end is not None and step >= end):
        return 0.0
    if ramp_end <= start:
        return float(share)
    return float(share) * min(1.0, (step - start) / (ramp_end - start))


def _finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def train_ring(case: Case, run_dir: Path) -> CaseResult:
    cfg = RING_CONFIGS[case.config]
    modes = ring()
    torch.manual_seed(case.seed)
    gen = torch.Generator().manual_seed(case.seed)
    data_rng = np.random.default_rng(case.seed)
    outcome_rng = np.random.default_rng(
        10_000 + case.seed
    )  # outcomes never share the training draws
    bundle = build_model("mlp_gan", data_dim=2, latent_dim=16, seed=case.seed)
    G, D = bundle.generator, bundle.discriminator
    if cfg.get("opt") == "sgd":
        opt_g = torch.optim.SGD(G.parameters(), lr=cfg["lr_g"])
        opt_d = torch.optim.SGD(D.parameters(), lr=cfg["lr_d"])
    else:
        betas = (cfg.get("beta1", 0.5), 0.999)
        opt_g = torch.optim.Adam(G.parameters(), lr=cfg["lr_g"], betas=betas)
        opt_d = torch.optim.Adam(D.parameters(), lr=cfg["lr_d"], betas=betas)
    kind, bs = cfg["loss"], cfg["batch"]
    names = cfg.get("names", ("G", "D"))
    D2 = opt_d2 = None
    discs = {names[1]: D}
    if cfg.get("second_d"):
        D2 = build_model("mlp_gan", data_dim=2, latent_dim=16, seed=case.seed + 1).discriminator
        opt_d2 = torch.optim.Adam(D2.parameters(), lr=cfg["second_d"][1], betas=(0.5, 0.999))
        discs[names[2]] = D2
    mon = Monitor(
        run_dir,
        generator={names[0]: G},
        discriminator=discs,
        loss="wasserstein" if kind == "wgan" else "bce",
        config={"case": case.name, **cfg},
        name=case.name,
        cadence=Cadence(samples=10, layers=50, histograms=50, grid=0, flush=50, coverage=50),
        seed=case.seed,
        quiet=True,
    )
    outcomes: dict[str, list] = {
        k: []
        for k in (
            "step",
            "effective_modes",
            "dominant_mode",
            "hq_share",
            "d_fake_prob",
            "d_real_prob",
            "g_grad_rel",
            "sample_scale",
            "critic_scale",
            "dominant_share",
            "centroid",
            "aux_fake_prob",
            "aux_real_prob",
        )
    }
    target = torch.from_numpy(modes.centers[0].astype(np.float32))
    q = torch.distributions.Normal(0.0, 1.0)
    g_grad0: list[float] = []
    nan_step: int | None = None
    step = 0
    with mon:
        for step in range(case.steps):
            for _ in range(cfg["d_steps"]):
                x = torch.from_numpy(modes.sample(bs, data_rng)[0])
                z = torch.randn(bs, 16, generator=gen)
                x.requires_grad_(cfg.get("r1", 0) > 0)
                dr, df = D(x).reshape(-1), D(G(z).detach()).reshape(-1)
                loss_d = d_loss(kind, dr, df)
                if cfg.get("r1", 0) > 0:
                    (grad,) = torch.autograd.grad(dr.sum(), x, create_graph=True)
                    loss_d = loss_d + cfg["r1"] / 2 * grad.pow(2).sum(1).mean()
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            if D2 is not None:
                for _ in range(cfg["second_d"][0]):
                    x2 = torch.from_numpy(modes.sample(bs, data_rng)[0])
                    z2 = torch.randn(bs, 16, generator=gen)
                    dr2, df2 = D2(x2).reshape(-1), D2(G(z2).detach()).reshape(-1)
                    loss_d2 = d_loss(kind, dr2, df2)
                    opt_d2.zero_grad(set_to_none=True)
                    loss_d2.backward()
                    opt_d2.step()
            z = torch.randn(bs, 16, generator=gen)
            fake = G(z)
            dfg = D(fake).reshape(-1)
            loss_g = g_loss(kind, dfg)
            share = pull_share(cfg.get("pull"), step)
            if share > 0:
                pulled = z[:, 0] < q.icdf(torch.tensor(min(share, 0.999)))
                if bool(pulled.any()):
                    dist = (fake[pulled] - target).pow(2).sum(1)
                    loss_g = loss_g + 10.0 * dist.sum() / bs
            if D2 is not None:
                dfg2 = D2(fake).reshape(-1)
                aux_kind = cfg["second_d"][3] if len(cfg["second_d"]) > 3 else kind
                loss_g = loss_g + cfg["second_d"][2] * g_loss(aux_kind, dfg2)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if D2 is None:
                d_real, d_fake = dr.detach(), dfg.detach()
            else:
                d_real = {names[1]: dr.detach(), names[2]: dr2.detach()}
                d_fake = {names[1]: dfg.detach(), names[2]: dfg2.detach()}
            mon.step(
                step,
                losses={names[0]: loss_g, names[1]: loss_d},
                d_real=d_real,
                d_fake=d_fake,
                real=x.detach(),
                fake=fake.detach(),
            )
            if nan_step is None and not (_finite(G) and _finite(D)):
                nan_step = step
            if step % RING_EVAL_EVERY == 0:
                with torch.no_grad():
                    small = G(torch.randn(EVAL_SAMPLES, 16, generator=gen)).numpy()
                if np.isfinite(small).all():
                    mon.log_scalars(step, modes.score(small).to_scalars())
                _ring_outcomes(outcomes, step, G, D, kind, modes, outcome_rng, g_grad0, D2)
            if nan_step is not None and step >= nan_step + 20:
                break
    outcomes["nonfinite_step"] = [nan_step]
    labels, ambiguous = label_ring(outcomes)
    return CaseResult(
        case={"family": case.family, "config": case.config, "seed": case.seed, "steps": case.steps},
        steps_run=step + 1,
        eval_every=RING_EVAL_EVERY,
        labels=labels,
        ambiguous=ambiguous,
        alerts=[],
        outcomes=outcomes,
        signals={},
    )


def _ring_outcomes(o, step, G, D, kind, modes, rng, g_grad0, D2=None) -> None:
    """Outcomes on 2,000 fresh samples (never the training batch)."""
    z = torch.from_numpy(rng.standard_normal((OUTCOME_SAMPLES, 16)).astype(np.float32))
    x = torch.from_numpy(modes.sample(OUTCOME_SAMPLES, rng)[0])
    G.zero_grad(set_to_none=True)
    fake = G(z)
    df = D(fake).reshape(-1)
    g_loss(kind, df).backward()
    grad = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in G.parameters() if p.grad is not None))
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    with torch.no_grad():
        dr = D(x).reshape(-1)
        pts = fake.detach().numpy().astype(np.float64)
    if not g_grad0:
        g_grad0.append(grad)
    ok = np.isfinite(pts).all(1)
    d2 = ((pts[ok, None, :] - modes.centers[None]) ** 2).sum(-1)
    nearest = d2.argmin(1) if ok.any() else np.zeros(0, dtype=int)
    hq = (
        np.sqrt(d2[np.arange(len(nearest)), nearest]) <= 3 * modes.sigma
        if ok.any()
        else np.zeros(0)
    )
    o["step"].append(step)
    o["effective_modes"].append(effective_modes(nearest, modes.num_modes) if ok.any() else math.nan)
    o["dominant_mode"].append(int(np.bincount(nearest, minlength=8).argmax()) if ok.any() else -1)
    o["hq_share"].append(float(hq.mean()) if ok.any() else 0.0)
    o["d_fake_prob"].append(_nan0(torch.sigmoid(df.detach()).mean()))
    o["d_real_prob"].append(_nan0(torch.sigmoid(dr).mean()))
    o["g_grad_rel"].append(
        grad / g_grad0[0] if g_grad0[0] > 0 and math.isfinite(grad) else math.nan
    )
    o["sample_scale"].append(
        float(np.linalg.norm(pts[ok], axis=1).mean()) if ok.any() else math.inf
    )
    o["critic_scale"].append(_nan0(0.5 * (df.detach().abs().mean() + dr.abs().mean())))
    counts = np.bincount(nearest, minlength=8)
    o["dominant_share"].append(float(counts.max() / max(counts.sum(), 1)) if ok.any() else 1.0)
    o["centroid"].append(float(np.linalg.norm(pts[ok].mean(0))) if ok.any() else math.inf)
    if D2 is not None:
        with torch.no_grad():
            o["aux_fake_prob"].append(_nan0(torch.sigmoid(D2(fake.detach())).mean()))
            o["aux_real_prob"].append(_nan0(torch.sigmoid(D2(x)).mean()))


def _nan0(t: torch.Tensor) -> float:
    v = float(t)
    return v if math.isfinite(v) else math.nan
