"""The training loop of the image-to-image models (cyclegan, pix2pix, srgan), watched by the Monitor.

``gandiag.train.train`` hands configs of these models here. A held-out slice of the data
(never trained on) gives the fixed probe batch of the translation signals
(:mod:`gandiag.monitor.translation`), the triplet grids and the periodic evaluation:
per-domain FID/KID with glyph features, class preservation, cycle error, PSNR/SSIM
(and the bicubic baseline for SR).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gandiag.data import load_dataset
from gandiag.data.translation import TranslationDataset
from gandiag.monitor.probes import rng_untouched
from gandiag.monitor.translation import TranslationProbe
from gandiag.reference_models import build_model, get_spec
from gandiag.reference_models.translation import TranslationBundle
from gandiag.train.actions import PolicyRunner
from gandiag.train.checkpoint import (
    load_checkpoint,
    load_checkpoint_file,
    restore_fork,
    save_checkpoint,
    set_global_rng_state,
)
from gandiag.train.config import TrainConfig
from gandiag.train.translation_eval import evaluate_translation, triplet_grid
from gandiag.train.translation_step import (
    CycleGANStepper,
    PairBatches,
    Pix2PixStepper,
    SRGANStepper,
    TranslationSettings,
    glyph_content_features,
)

#: held-out items (probe batch, grids, evaluation), at most this many and a fifth of the data
HOLDOUT = 500


def train_translation(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    start_from: Path | None = None,
) -> Path:
    """Train an image-to-image model in ``run_dir``; ``resume`` and ``start_from`` as in
    :func:`gandiag.train.train` (the loop keeps the same health-tagged checkpoint ring and
    runs the same alert policies, so ``gandiag doctor`` forks its branches from it)."""
    from gandiag.train.trainer import (
        _autocast,
        _cadence,
        _make_monitor,
        _optimizer_factory,
        _optimizers,
        _payload,
        pick_device,
    )

    device = pick_device(cfg.device)
    ds = load_dataset(cfg.data.name, **cfg.data.options)
    spec = get_spec(cfg.model.name)
    task = _task_of(cfg.model.name)
    if not isinstance(ds, TranslationDataset) or ds.task != task:
        raise ValueError(
            f"model {cfg.model.name!r} trains on {task} image pairs; dataset {cfg.data.name!r} "
            "is not one (use glyphs_unpaired for cyclegan, glyphs_edges for pix2pix, "
            "glyphs_sr for srgan)"
        )
    bundle = build_model(cfg.model.name, seed=cfg.seed, **_model_options(cfg, ds, spec.options))
    if not isinstance(bundle, TranslationBundle):
        raise TypeError(f"model {cfg.model.name!r} did not build a TranslationBundle")
    if start_from is not None and resume:
        raise ValueError("start_from and resume exclude each other")
    ckpt: dict[str, Any] | None
    if start_from is not None:
        ckpt = load_checkpoint_file(Path(start_from), bundle.name, bundle.options, fork=True)
    else:
        ckpt = load_checkpoint(run_dir, bundle.name, bundle.options) if resume else None
    bundle.to(device)

    n_hold, order_x, order_y = split(cfg, ds)
    hold_x, hold_y = order_x[:n_hold], order_y[:n_hold]
    batches = PairBatches(
        _sources(ds)[order_x[n_hold:]],
        ds.array[order_y[n_hold:]],
        ds.paired,
        cfg.data.batch_size,
        device,
        cfg.seed,
    )
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed + 7)
    make_opt, optim = _optimizer_factory(cfg, bundle.training)
    settings = _settings(cfg, bundle.training)
    stepper = _stepper(bundle, settings, make_opt, batches, _autocast(device, cfg.amp), gen, device)

    held = _Held(ds, hold_x, hold_y, device)
    probe_n = max(2, min(cfg.translation.probe_size, n_hold))
    probes = _probes(bundle, held, probe_n, cfg.seed)

    def restore(payload: dict[str, Any], monitor: Any = None) -> None:
        stepper.load_state_dict(payload["stepper"])
        batches.load_state_dict(payload["batches"])
        if payload.get("generator_state") is not None:  # absent from older checkpoints
            gen.set_state(payload["generator_state"])
        set_global_rng_state(payload.get("global_rng"))  # pix2pix's dropout draws from it
        if monitor is not None and payload.get("monitor") is not None:
            monitor.flush()
            monitor.load_state_dict(payload["monitor"])

    start = 0
    if ckpt is not None:
        configured = [[g["lr"] for g in o.param_groups] for o in _optimizers(stepper)]
        restore_fork(restore, ckpt, bundle.options, start_from)
        if start_from is not None:  # the branch's own learning rates, not the parent's
            for opt, lrs in zip(_optimizers(stepper), configured):
                for group, lr in zip(opt.param_groups, lrs):
                    group["lr"] = lr
        start = int(ckpt["step"]) + 1

    cadence = _cadence(cfg)
    mon = _make_monitor(
        cfg, bundle, run_dir, {**vars(settings), **optim}, resume, progress, device, cadence
    )
    if ckpt is not None and ckpt.get("monitor") is not None:
        mon.load_state_dict(ckpt["monitor"])
    if start_from is not None:
        mon.set_meta(forked_from={"checkpoint": str(start_from), "step": start - 1})

    def snapshot(step: int) -> dict[str, Any]:
        return _payload(bundle, stepper, batches, gen, mon, step, runner)

    runner = PolicyRunner.from_config(
        cfg,
        run_dir,
        snapshot=snapshot,
        restore=lambda payload: restore(payload, mon),
        optimizers=lambda: _optimizers(stepper),
        set_meta=mon.set_meta,
    )
    if ckpt is not None and resume and ckpt.get("policy"):
        runner.rollbacks = int(ckpt["policy"]["rollbacks"])
    from tqdm.auto import tqdm

    bar = tqdm(
        total=cfg.steps,
        initial=start,
        disable=not progress,
        desc=bundle.name,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    # the translation probes, paced with the monitor's own (every `probe_every` steps on
    # the CPU; on an accelerator kept within the monitor's wall-time budget)
    probe_family = mon.family("translation", cfg.translation.probe_every)
    try:
        with mon:
            step = start
            while step < cfg.steps:
                out = stepper.step(step)
                alerts = mon.step(
                    step,
                    losses=out["losses"],
                    d_real=out["d_real"],
                    d_fake=out["d_fake"],
                    real=out["real"],
                    fake=out["fake"],
                )
                if probe_family.due(step):
                    with probe_family.charge():
                        scalars = _probe_signals(bundle, probes)
                    mon.log_scalars(step, scalars)
                last = step == cfg.steps - 1
                evaluating = last or (cfg.eval.every and step % cfg.eval.every == 0 and step > 0)
                if evaluating:
                    with rng_untouched(device):
                        scalars, results = evaluate_translation(
                            bundle, held, cfg.eval.metrics, step
                        )
                    mon.log_scalars(step, scalars)
                    if results:
                        mon.log_metrics(results)
                if evaluating or step == 0 or (cadence.grid and step % cadence.grid == 0):
                    with rng_untouched(device):
                        grid = triplet_grid(bundle, held)
                    mon.log_images(step, grid, name="samples")
                if last or (cfg.checkpoint.every and step % cfg.checkpoint.every == 0 and step):
                    save_checkpoint(run_dir, snapshot(step))
                if progress:
                    bar.set_postfix(
                        {k: f"{float(v):.3g}" for k, v in out["losses"].items() if k in ("G", "D")},
                        refresh=False,
                    )
                if runner.policy.active and (step + 1) % mon.cadence.flush == 0:
                    alerts += mon.flush()  # act on alerts at the flush cadence, not later
                following = runner.after_step(step, alerts)
                if following is None:  # a stop policy: keep the state where it stopped
                    save_checkpoint(run_dir, snapshot(step))
                    break
                bar.update(following - step)
                step = following
    finally:
        bar.close()
    return run_dir


def split(cfg: TrainConfig, ds: TranslationDataset) -> tuple[int, np.ndarray, np.ndarray]:
    """``(held-out count, source order, target order)``: the first items of each order are
    held out (probes, grids, evaluation), the rest train; seeded by ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 6])
    n_hold = min(HOLDOUT, len(ds) // 5)
    order_x, order_y = rng.permutation(len(_sources(ds))), rng.permutation(len(ds))
    if ds.paired:
        order_y = order_x
    return n_hold, order_x, order_y


def held_out(cfg: TrainConfig, ds: TranslationDataset, device: torch.device) -> _Held:
    """The held-out set of a run with config ``cfg`` (as its training loop saw it)."""
    n_hold, order_x, order_y = split(cfg, ds)
    return _Held(ds, order_x[:n_hold], order_y[:n_hold], device)


def _sources(ds: TranslationDataset) -> np.ndarray:
    if ds.inputs is None:
        raise ValueError(
            f"dataset {ds.name!r} has no source images (inputs); translation models train on "
            "source/target pairs"
        )
    return ds.inputs


def _task_of(name: str) -> str:
    from gandiag.reference_models.translation import TASK_OF

    return TASK_OF[name]


def _model_options(cfg: TrainConfig, ds: TranslationDataset, valid: Any) -> dict[str, Any]:
    opts = dict(cfg.model.options)
    opts.setdefault("channels", int(ds.array.shape[1]))
    opts.setdefault("image_size", int(ds.array.shape[-1]))
    if "scale" in valid:
        opts.setdefault("scale", int(ds.array.shape[-1] // _sources(ds).shape[-1]))
    return opts


def _settings(cfg: TrainConfig, t: dict[str, Any]) -> TranslationSettings:
    c = cfg.translation

    def pick(value: Any, key: str, default: Any) -> Any:
        return value if value is not None else t.get(key, default)

    from gandiag.reference_models import losses as L

    return TranslationSettings(
        loss=L.check_loss(pick(cfg.gan.loss, "loss", "lsgan")),
        lambda_cycle=float(pick(c.lambda_cycle, "lambda_cycle", 10.0)),
        lambda_identity=float(pick(c.lambda_identity, "lambda_identity", 0.5)),
        pool_size=int(pick(c.pool_size, "pool_size", 0)),
        lambda_l1=float(pick(c.lambda_l1, "lambda_l1", 100.0)),
        lambda_adv=float(pick(c.lambda_adv, "lambda_adv", 1.0)),
        lambda_content=float(pick(c.lambda_content, "lambda_content", 0.0)),
        pretrain_steps=int(pick(c.pretrain_steps, "pretrain_steps", 0)),
    )


def _stepper(
    bundle: TranslationBundle,
    settings: TranslationSettings,
    make_opt: Any,
    batches: PairBatches,
    autocast: Any,
    gen: torch.Generator,
    device: torch.device,
) -> CycleGANStepper | Pix2PixStepper | SRGANStepper:
    # chosen by what the model declares, not by its name
    if bundle.inverses:  # a cycle-consistent pair: CycleGAN's adversarial + cycle + identity
        return CycleGANStepper(bundle, settings, make_opt, batches, autocast, gen)
    if bundle.capabilities.paired_discriminator:  # D on (input, output) pairs, plus L1
        return Pix2PixStepper(bundle, settings, make_opt, batches, autocast)
    if bundle.task == "super_resolution":  # MSE pre-training, then content + adversarial
        content = glyph_content_features(device) if settings.lambda_content > 0 else (lambda x: x)
        return SRGANStepper(bundle, settings, make_opt, batches, autocast, content)
    raise ValueError(
        f"model {bundle.name!r} declares no translation it trains as: inverse generators "
        "(a cycle), a paired discriminator, or the super_resolution task"
    )


class _Held:
    """The held-out sources and targets as float tensors in [-1, 1], with their classes."""

    def __init__(
        self, ds: TranslationDataset, ix: np.ndarray, iy: np.ndarray, device: torch.device
    ) -> None:
        self.x = torch.from_numpy(ds.input_batch(ix)).to(device)
        self.y = torch.from_numpy(ds.batch(iy)).to(device)
        self.labels_x = torch.from_numpy(np.asarray(ds.input_labels)[ix]).to(device)
        self.labels_y = torch.from_numpy(np.asarray(ds.labels)[iy]).to(device)
        self.paired, self.task = ds.paired, ds.task
        # the correct translations, where known (outcome labels only; never trained on)
        self.truth_x = _scaled(ds.input_truth, ix, device)
        self.truth_y = _scaled(ds.target_truth, iy, device)


def _scaled(images: np.ndarray | None, index: np.ndarray, device: torch.device) -> Any:
    if images is None:
        return None
    return torch.from_numpy(images[index].astype(np.float32) / 127.5 - 1.0).to(device)


def balanced_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """Positions of a probe batch of about ``n`` items drawn evenly from each class of
    ``labels`` (the held-out classes, in held-out order): ``n // classes`` items of each
    class, the first of that class in held-out order (so deterministic by the run's seed,
    which set that order), or all a class has where it has fewer. Equal counts make the
    chance level of an output blind to its input 1 / classes, as on the near-balanced
    held-out set the outcome labels read; the first ``n`` items instead let the batch's
    largest class (16-28% of 32 items over seeds) set it. With fewer than ``classes``
    items wanted, one item of each of the first ``n`` classes to appear. Returned in
    held-out order."""
    labels = np.asarray(labels).reshape(-1)
    if n < 1:
        raise ValueError(f"a probe batch needs at least 1 item; got n={n}")
    classes, first = np.unique(labels, return_index=True)
    by_appearance = classes[np.argsort(first)]
    per = max(n // len(classes), 1)
    if n < len(classes):
        by_appearance = by_appearance[:n]
    picked = [np.flatnonzero(labels == c)[:per] for c in by_appearance]
    return np.sort(np.concatenate(picked))


def _probes(
    bundle: TranslationBundle, held: _Held, n: int, seed: int
) -> dict[str, TranslationProbe]:
    """The fixed probe batches, class-balanced (:func:`balanced_indices`); paired data keeps
    its pairs (one set of positions), unpaired domains are balanced each by its own classes."""
    sr = held.task == "super_resolution"
    ix = torch.from_numpy(balanced_indices(held.labels_x.cpu().numpy(), n)).to(held.x.device)
    iy = ix
    if not held.paired:
        iy = torch.from_numpy(balanced_indices(held.labels_y.cpu().numpy(), n)).to(held.y.device)
    first = next(iter(bundle.generators))
    probes = {
        first: TranslationProbe(
            held.x[ix],
            held.y[iy],
            paired=held.paired,
            labels=held.labels_x[ix],
            target_labels=held.labels_y[iy],
            super_resolution=sr,
            seed=seed,
        )
    }
    back = bundle.inverses.get(first)
    if back is not None:  # the inverse generator translates the other way
        probes[back] = TranslationProbe(
            held.y[iy],
            held.x[ix],
            paired=False,
            labels=held.labels_y[iy],
            target_labels=held.labels_x[ix],
            seed=seed + 1,
        )
    return probes


def _probe_signals(
    bundle: TranslationBundle, probes: dict[str, TranslationProbe]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, probe in probes.items():
        out.update(probe.signals(name, bundle.generators[name], bundle.inverse(name)))
    return out
