"""``train(config, out_dir)``: the reference training loop, always watched by the Monitor."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import torch

from gandiag.advice import ENTRY_TRAINER, advise_alert
from gandiag.data import Dataset, load_dataset
from gandiag.log import get_logger
from gandiag.monitor.probes import rng_untouched
from gandiag.reference_models import ModelBundle, build_model, get_spec
from gandiag.reference_models import losses as L
from gandiag.store import (
    DiskFullError,
    RunLockedError,
    current_writer,
    disk_full_cause,
    is_disk_full,
    run_exists_error,
)
from gandiag.train.actions import PolicyRunner
from gandiag.train.checkpoint import (
    global_rng_state,
    load_checkpoint,
    load_checkpoint_file,
    restore_fork,
    save_checkpoint,
    set_global_rng_state,
)
from gandiag.train.config import TrainConfig, load_config
from gandiag.train.evaluation import Evaluator, metric_scalars
from gandiag.train.family import FamilyStepper, watched_networks
from gandiag.train.gan_step import GANSettings, GANStepper
from gandiag.train.grids import Autoencoder, SampleGrids, interpolation
from gandiag.train.vae_step import AutoencoderStepper, VAESettings
from gandiag.train.video_step import VideoGANSettings, VideoGANStepper, video_settings

if TYPE_CHECKING:
    from gandiag.monitor import Cadence, Monitor
    from gandiag.train.video_eval import VideoEvaluator
    from gandiag.types import Alert

OPTIMIZERS = ("adam", "rmsprop", "sgd")
OptimizerFactory = Callable[[Any, str], torch.optim.Optimizer]
Autocast = Callable[[], contextlib.AbstractContextManager[Any]]
Stepper = GANStepper | AutoencoderStepper | VideoGANStepper
_log = get_logger("train")


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then MPS, then CPU for ``"auto"``; otherwise the named device."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class Batches:
    """Seeded shuffled batches of a dataset kept on the device; resumable mid-epoch."""

    def __init__(
        self, ds: Dataset, index: np.ndarray, batch_size: int, device: torch.device, seed: int
    ) -> None:
        if batch_size > len(index):
            raise ValueError(
                f"batch_size {batch_size} exceeds the {len(index)} training items; "
                "lower data.batch_size or raise the dataset size (data.options.n)"
            )
        self.x = torch.from_numpy(np.ascontiguousarray(ds.array[index])).to(device)
        self.y = None if ds.labels is None else torch.from_numpy(ds.labels[index]).to(device)
        self.images, self.batch_size = ds.kind in ("images", "videos"), batch_size
        self.rng = np.random.default_rng([seed, 4])
        self.perm, self.pos, self.epoch = self.rng.permutation(len(index)), 0, 0

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.pos + self.batch_size > len(self.perm):
            self.perm, self.pos, self.epoch = (
                self.rng.permutation(len(self.perm)),
                0,
                self.epoch + 1,
            )
        idx = torch.from_numpy(self.perm[self.pos : self.pos + self.batch_size]).to(self.x.device)
        self.pos += self.batch_size
        x = self.x[idx]
        x = x.float() / 127.5 - 1.0 if self.images else x.float()
        return x, None if self.y is None else self.y[idx]

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "perm": torch.from_numpy(self.perm),
            "pos": self.pos,
            "epoch": self.epoch,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.rng.bit_generator.state = sd["rng"]
        self.perm, self.pos, self.epoch = sd["perm"].numpy(), int(sd["pos"]), int(sd["epoch"])


def train(
    config: dict | str | Path | TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    start_from: str | Path | None = None,
) -> Path:
    """Train the configured model in ``out_dir`` (the run directory) and return its path.

    ``resume=True`` continues the run in ``out_dir`` from its checkpoint: same run store,
    same step count, same data order. Raises before writing anything on a bad config,
    an existing run without ``resume``, or a checkpoint from another model.

    ``start_from`` (a checkpoint file, for example one of a run's ``ring/step-*.pt``)
    starts a new run in ``out_dir`` from that state: networks, optimiser moments, data
    order, RNG and detector states as they were, with this config's settings (learning
    rates, losses, penalties) from the next step on. ``gandiag doctor`` forks its
    branches this way.

    The global torch RNG (dropout, StyleGAN-lite's per-layer noise draw from it) is seeded
    from the config's seed for the run and the caller's state is put back after, so a run
    depends only on its seed, whatever ran before it in the process; evaluations, grids
    and probes run with the RNG put back after them (:func:`rng_untouched`), so it does
    not depend on how often or what the run evaluates either.
    """
    cfg = load_config(config)
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(cfg.seed * 1_000_003 + 23)
        return _train(cfg, Path(out_dir), resume, progress, start_from)


def _train(
    cfg: TrainConfig,
    run_dir: Path,
    resume: bool,
    progress: bool,
    start_from: str | Path | None,
) -> Path:
    holder = current_writer(run_dir)
    if holder is not None:  # one writer per run: nothing is loaded or written
        raise RunLockedError(run_dir, holder)
    if (run_dir / "run.sqlite").exists() and not resume:
        raise run_exists_error(run_dir)
    if resume and not (run_dir / "run.sqlite").exists():
        raise FileNotFoundError(f"cannot resume: {run_dir} holds no gandiag run")
    if cfg.steps < 1 or cfg.data.batch_size < 1:
        raise ValueError("steps and data.batch_size must be at least 1")
    if get_spec(cfg.model.name).kind == "translation":  # cyclegan, pix2pix, srgan
        from gandiag.train.translation import train_translation

        return train_translation(
            cfg,
            run_dir,
            resume=resume,
            progress=progress,
            start_from=Path(start_from) if start_from is not None else None,
        )
    device = pick_device(cfg.device)

    ds = load_dataset(cfg.data.name, **cfg.data.options)
    bundle = _build_bundle(cfg, ds)
    if start_from is not None and resume:
        raise ValueError("start_from and resume exclude each other")
    ckpt: dict[str, Any] | None
    if start_from is not None:
        ckpt = load_checkpoint_file(Path(start_from), bundle.name, bundle.options, fork=True)
    else:
        ckpt = load_checkpoint(run_dir, bundle.name, bundle.options) if resume else None
    bundle.to(device)

    rng = np.random.default_rng([cfg.seed, 6])
    order = rng.permutation(len(ds))
    # held-out reals for D's outputs (d_val, r_v): GANs only, at most a tenth of the data
    n_val = min(cfg.data.val_size, len(ds) // 10) if bundle.kind == "gan" else 0
    val_index, train_index = order[:n_val], order[n_val:]
    batches = Batches(ds, train_index, cfg.data.batch_size, device, cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 7)
    autocast = _autocast(device, cfg.amp)
    stepper, settings = _make_stepper(cfg, bundle, batches, gen, autocast)
    val_x = val_y = None
    if n_val and bundle.kind == "gan" and not _is_video(bundle):
        val_x = torch.from_numpy(ds.batch(val_index[: cfg.data.batch_size])).to(device)
        if ds.labels is not None:  # a conditional D scores held-out reals with their own labels
            val_y = torch.from_numpy(ds.labels[val_index[: cfg.data.batch_size]]).to(device)
    if ds.kind == "videos":
        from gandiag.train.video_eval import VideoEvaluator

        evaluator: Evaluator | VideoEvaluator = VideoEvaluator(
            ds, cfg.eval.metrics, cfg.eval.num_real, device, cfg.seed
        )
    else:
        evaluator = Evaluator(ds, cfg.eval.metrics, cfg.eval.num_real, device, cfg.seed)
    cadence = _cadence(cfg)
    grids = SampleGrids(
        bundle, evaluator.real_batch(cadence.grid_size * 8), cadence.grid_size, cfg.seed, device
    )
    cond_probe = _condition_probe(bundle, ds, train_index, device, cfg.seed)

    def restore(payload: dict[str, Any], monitor: Any = None) -> None:
        stepper.load_state_dict(payload["stepper"])
        batches.load_state_dict(payload["batches"])
        gen.set_state(payload["generator_state"])
        set_global_rng_state(payload.get("global_rng"))  # absent from older checkpoints
        if monitor is not None and payload.get("monitor") is not None:
            monitor.flush()  # what the abandoned steps still had buffered goes first
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

    mon = _make_monitor(cfg, bundle, run_dir, settings, resume, progress, device, cadence)
    if isinstance(stepper, FamilyStepper) and stepper.probe_every > 0:
        # a family stepper's own probes, paced with the monitor's
        stepper.probe_pacing = mon.family("stepper_probes", stepper.probe_every)
    if ckpt is not None and ckpt.get("monitor") is not None:
        mon.load_state_dict(ckpt["monitor"])
    if start_from is not None:
        mon.set_meta(forked_from={"checkpoint": str(start_from), "step": start - 1})
    # Who made the run decides how advice reads (a config key, not a Python argument), and
    # known mode centres are drawn under 2-D sample scatters.
    mon.set_meta(entry_point=ENTRY_TRAINER)
    if ds.modes is not None:
        mon.set_meta(
            data_modes={
                "name": ds.modes.name,
                "centers": ds.modes.centers.tolist(),
                "sigma": float(ds.modes.sigma),
            }
        )

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
    every_eval = cfg.eval.every
    step, saved = start - 1, (start - 1 if ckpt is not None and resume else None)
    try:
        with mon:
            step = start
            while step < cfg.steps:
                out = stepper.step(step)
                d_val = None
                if val_x is not None and (not mon.cadence.samples or mon.due("samples", step)):
                    with torch.no_grad():
                        d_val = _d_outputs(bundle, val_x, val_y)
                alerts = _monitor_step(mon, bundle, step, out, d_val)
                if cond_probe is not None and mon.due("samples", step):
                    conditional_d = bundle.capabilities.conditional_discriminator
                    D = bundle.discriminator if conditional_d else None
                    with mon.charge("samples"), rng_untouched(batches.x.device):
                        scalars = cond_probe(stepper.sample_net(), D)
                    mon.log_scalars(step, scalars)
                last = step == cfg.steps - 1
                evaluating = last or (every_eval and step % every_eval == 0 and step > 0)
                # evaluations and grids leave the training's random numbers as they were
                if evaluating:
                    with rng_untouched(batches.x.device):
                        _evaluate(cfg, bundle, stepper, evaluator, mon, step, batches.x.device)
                # Grids at step 0, on the grid cadence, at every evaluation and at the end,
                # so the run's latest grid always shows the final model.
                if evaluating or step == 0 or (cadence.grid and step % cadence.grid == 0):
                    with rng_untouched(batches.x.device):
                        grids.log(mon, step, stepper.sample_net())
                if last or (cfg.checkpoint.every and step % cfg.checkpoint.every == 0 and step):
                    save_checkpoint(run_dir, snapshot(step))
                    saved = step
                if progress:
                    bar.set_postfix(
                        {
                            k: f"{float(v):.3g}"
                            for k, v in out["losses"].items()
                            if k in ("G", "D", "total")
                        },
                        refresh=False,
                    )
                if runner.policy.active and (step + 1) % mon.cadence.flush == 0:
                    alerts += mon.flush()  # act on alerts at the flush cadence, not later
                following = runner.after_step(step, alerts)
                if following is None:  # a stop policy: keep the state where it stopped
                    save_checkpoint(run_dir, snapshot(step))
                    saved = step
                    break
                bar.update(following - step)
                step = following
    except Exception as exc:
        if is_disk_full(exc):
            raise _disk_full_error(run_dir, step, saved, exc) from exc
        raise
    finally:
        bar.close()
    return run_dir


def _disk_full_error(run_dir: Path, step: int, saved: int | None, exc: BaseException) -> OSError:
    import errno

    from gandiag.train.checkpoint import checkpoint_path

    kept = (
        f"the last checkpoint {checkpoint_path(run_dir)} (step {saved}) is intact"
        if saved is not None
        else "no checkpoint had been saved yet"
    )
    err = DiskFullError(
        f"the disk holding {run_dir} is full ({disk_full_cause(exc) or exc}); training stopped at step {step}. Every "
        f"step committed to the run store before it is safe and {kept}. Free some space, then "
        + (
            f"continue from that checkpoint with `gandiag train CONFIG --out {run_dir} --resume`."
            if saved is not None
            else "start the run again in a new directory."
        ),
    )
    err.errno = errno.ENOSPC
    return err


def _optimizers(stepper: Any) -> list[torch.optim.Optimizer]:
    """The stepper's optimisers, in a fixed order (attribute order), including those it
    keeps in a dict or list (the video GAN's one per discriminator): a fork or a rollback
    that missed them would keep the checkpoint's learning rates for those networks."""
    found: list[torch.optim.Optimizer] = []
    for value in vars(stepper).values():
        if isinstance(value, dict):
            items = list(value.values())
        else:
            items = list(value) if isinstance(value, (list, tuple)) else [value]
        found += [o for o in items if isinstance(o, torch.optim.Optimizer)]
    return found


# -- building ---------------------------------------------------------------------------------
def _build_bundle(cfg: TrainConfig, ds: Dataset) -> ModelBundle:
    spec = get_spec(cfg.model.name)
    opts = dict(cfg.model.options)
    shape = ds.model_shape_options()
    for key, value in shape.items():
        if key in spec.options:
            opts.setdefault(key, value)
    if ds.kind == "points" and "arch" in spec.options:
        opts.setdefault("arch", "mlp")  # conv backbones cannot read 2-D points
    if spec.capabilities.conditional:
        if ds.labels is None or not ds.num_classes:
            raise ValueError(
                f"model {spec.name!r} is class-conditional but dataset "
                f"{ds.name!r} has no labels; use a labelled dataset"
            )
        opts.setdefault("num_classes", ds.num_classes)
    return build_model(cfg.model.name, seed=cfg.seed, **opts)


def _optimizer_factory(
    cfg: TrainConfig, training: dict[str, Any]
) -> tuple[OptimizerFactory, dict[str, Any]]:
    o = cfg.optim
    name = o.optimizer or training.get("optimizer", "adam")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    given = o.betas if o.betas is not None else training.get("betas", (0.5, 0.999))
    if len(given) != 2:
        raise ValueError(f"optim.betas must be two numbers (beta1, beta2), got {given!r}")
    betas = (float(given[0]), float(given[1]))
    lrs = {
        "g": o.lr_g if o.lr_g is not None else training.get("lr_g"),
        "d": o.lr_d if o.lr_d is not None else training.get("lr_d"),
        "model": o.lr if o.lr is not None else training.get("lr"),
    }

    def make(params: Any, which: str, lr: float | None = None) -> torch.optim.Optimizer:
        if lr is None:
            configured = lrs[which]
            lr = float(configured) if configured is not None else 2e-4
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=o.weight_decay)
        if name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, weight_decay=o.weight_decay)
        return torch.optim.SGD(params, lr=lr, weight_decay=o.weight_decay)

    return make, {"optimizer": name, "betas": list(betas), **{f"lr_{k}": v for k, v in lrs.items()}}


def _make_stepper(
    cfg: TrainConfig,
    bundle: ModelBundle,
    batches: Batches,
    gen: torch.Generator,
    autocast: Autocast,
) -> tuple[Stepper, dict[str, Any]]:
    make_opt, optim = _optimizer_factory(cfg, bundle.training)
    t, g = bundle.training, cfg.gan

    def pick(value: Any, key: str, default: Any) -> Any:
        return value if value is not None else t.get(key, default)

    if "stepper" in t:  # a family with its own loop (phases, several networks)
        from gandiag.train.family import stepper_class

        if g.ada:
            raise ValueError(
                f"{bundle.name} trains with its own stepper, which takes its settings from "
                "[gan.options]: set ada there if the family offers it, not gan.ada"
            )
        stepper = stepper_class(t["stepper"])(bundle, g.options, make_opt, batches, gen, autocast)
        return stepper, {**stepper.settings, "loss": t["loss"], **optim}
    settings: VideoGANSettings | GANSettings | VAESettings
    if _is_video(bundle):
        settings = video_settings(cfg, t)
        stepper = VideoGANStepper(bundle, settings, make_opt, batches, gen, autocast)
    elif bundle.kind == "gan":
        s = settings = GANSettings(
            loss=L.check_loss(pick(g.loss, "loss", "nonsaturating")),
            d_steps=int(pick(g.d_steps, "d_steps", 1)),
            clip=float(pick(g.clip, "clip", 0.0)),
            gp=float(pick(g.gp, "gp", 0.0)),
            r1=float(pick(g.r1, "r1", 0.0)),
            real_label=1.0 - g.label_smoothing,
            instance_noise=g.instance_noise,
            instance_noise_anneal=g.instance_noise_anneal,
            ema=g.ema,
            unrolled_steps=int(pick(g.unrolled_steps, "unrolled_steps", 0)),
            aux_weight=float(pick(g.aux_weight, "aux_weight", 1.0)),
            info_weight=float(pick(g.info_weight, "info_weight", 1.0)),
            ada=bool(g.ada),
            ada_target=float(g.ada_target),
            ada_interval=int(g.ada_interval),
            ada_kimg=float(g.ada_kimg),
        )
        if s.d_steps < 1:
            raise ValueError(f"gan.d_steps must be at least 1, got {s.d_steps}")
        if s.unrolled_steps and bundle.capabilities.has_aux_head:
            raise ValueError(
                f"unrolled steps are not supported with auxiliary heads ({bundle.name}'s "
                "discriminator predicts classes or latent codes); set gan.unrolled_steps = 0"
            )
        stepper = GANStepper(bundle, s, make_opt, batches, gen, autocast)
    else:
        beta = cfg.vae.beta if cfg.vae.beta is not None else getattr(bundle.model, "beta", 1.0)
        settings = VAESettings(
            beta=float(beta),
            kl_anneal_steps=cfg.vae.kl_anneal_steps,
            free_bits=cfg.vae.free_bits,
            kl_anneal_start=cfg.vae.kl_anneal_start,
        )
        stepper = AutoencoderStepper(bundle, settings, make_opt, batches, gen, autocast)
    return stepper, {**vars(settings), **optim}


def _autocast(device: torch.device, amp: bool) -> Autocast:
    if amp and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def _cadence(cfg: TrainConfig) -> Cadence:
    """The validated ``[monitor.cadence]``; its ``grid`` / ``grid_size`` drive the trainer's grids."""
    from gandiag.monitor import Cadence

    try:
        return Cadence(**cfg.monitor.cadence)
    except TypeError as exc:
        valid = ", ".join(f.name for f in dataclasses.fields(Cadence))
        raise ValueError(f"bad [monitor.cadence] option ({exc}); valid keys: {valid}") from None


def _make_monitor(
    cfg: TrainConfig,
    bundle: ModelBundle,
    run_dir: Path,
    settings: dict[str, Any],
    resume: bool,
    progress: bool,
    device: torch.device,
    cadence: Cadence,
) -> Monitor:
    from gandiag.monitor import Monitor
    from gandiag.reference_models.translation import TranslationBundle

    # kind= picks the default set: an autoencoder is watched as a VAE with a point
    # posterior, whose KL signals say nothing, so "ae" runs no posterior-collapse detector.
    detectors: Any = None if cfg.monitor.detectors == "none" else cfg.monitor.detectors
    family = family_detectors(
        bundle.training, bundle.conditional, _is_video(bundle), bool(settings.get("ada"))
    )
    # a translation model runs the "translation" set, whose detectors read its probes
    explicit = bundle.kind in ("vae", "translation") or _is_video(bundle)
    if detectors == "default" and (cfg.monitor.overrides or family or explicit):
        from gandiag.detectors import default_detectors

        # a video model runs the GAN defaults plus the video detectors ("video" set)
        overrides: dict[str, Any] = {**family, **cfg.monitor.overrides}
        pc = overrides.get("posterior_collapse", {})
        if bundle.kind == "vae" and pc not in (False, None):
            # the posterior-collapse warm-up is a fraction of this run's length
            given = pc if isinstance(pc, dict) else {}
            overrides["posterior_collapse"] = {"total_steps": cfg.steps, **given}
        detectors = default_detectors(_model_kind(bundle), **overrides)
    # The trainer draws every sample grid itself (gandiag.train.grids): one latent batch,
    # the evaluated network, proper conditional/InfoGAN latents. The monitor draws none.
    cadence = dataclasses.replace(cadence, grid=0)
    common = {
        "config": {
            **cfg.to_dict(),
            "resolved": settings,
            "model_options": _jsonable(bundle.options),
        },
        "name": cfg.name or f"{bundle.name}-{cfg.data.name}",
        "resume": resume,
        "cadence": cadence,
        "detectors": detectors,
        "kind": _model_kind(bundle),  # a video GAN records "video", the set it runs
        "device": device,
        "seed": cfg.seed,
    }
    if progress:
        from tqdm.auto import tqdm

        common["on_alert"] = lambda alert: tqdm.write(
            advise_alert(alert, ENTRY_TRAINER).one_line(), file=sys.stderr
        )
    else:
        common["quiet"] = True
    caps = bundle.capabilities
    if _is_video(bundle):
        # The coverage probe embeds clips [B, T, C, H, W] with the bundled video network
        # (FVD-lite's feature space): D_S and D_T take labels and frame indices besides the
        # clip, so the default (D's penultimate features) cannot embed them.
        from gandiag.features.video import load_video_classifier

        common["features"] = load_video_classifier(device=device).features
    elif caps.conditional_discriminator or caps.paired_discriminator:
        # A discriminator of (sample, condition) pairs (cGAN's, StackGAN's, pix2pix's)
        # cannot embed samples alone: the probe's own fallback, chosen from the capability
        # rather than found by a failed call (whose error the user would read as a fault).
        from gandiag.monitor.coverage import pooled_pixels

        common["features"] = pooled_pixels
    if isinstance(bundle, TranslationBundle):  # several generators and discriminators
        return Monitor(
            run_dir,
            generator=bundle.generators,
            discriminator=bundle.discriminators,
            loss=L.monitor_loss_kind(settings["loss"]),
            **common,
        )
    if bundle.kind == "gan":
        fixed = None
        if bundle.conditional:  # the latent probes cycle through the classes
            fixed = torch.arange(4096, device=device) % bundle.num_classes
        G = bundle.generator
        generate = (lambda z: G(z, fixed[: len(z)])) if fixed is not None and G else None
        # several discriminators (DVD-GAN's D_S and D_T) are watched one by one, and the
        # stages of a multi-stage model as networks of their stage
        watched = watched_networks(bundle.require("generator"), bundle.require("discriminator"))
        if generate is None and watched["stages"]:
            generate = G  # the whole generator samples; its stages are watched
        return Monitor(
            run_dir,
            **watched,
            loss=L.monitor_loss_kind(settings["loss"]),
            latent_dim=bundle.latent_dim,
            generate=generate,
            **common,
        )
    return Monitor(run_dir, model=bundle.model, latent_dim=bundle.latent_dim, **common)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def family_detectors(
    training: Mapping[str, Any], conditional: bool, video: bool, ada: bool
) -> dict[str, bool]:
    """The detectors the trainer adds to the default set for a model, by what it has:
    its family's own (phases, style networks: ``training["detectors"]`` of its spec),
    ADA's runaway watch, and the condition probe's for class-conditional image GANs."""
    family = dict.fromkeys(training.get("detectors", ()), True)
    if ada:  # the augmentation's p is watched for runaway
        family["augment_runaway"] = True
    if conditional and not video:  # the condition probe's signals
        family["condition_ignored"] = family["class_collapse"] = True
    return family


def _is_video(bundle: ModelBundle) -> bool:
    return bundle.kind == "gan" and bool(bundle.options.get("frames"))


def _model_kind(bundle: ModelBundle) -> str:
    return "video" if _is_video(bundle) else bundle.kind


def _condition_probe(
    bundle: ModelBundle, ds: Dataset, index: np.ndarray, device: torch.device, seed: int
) -> Any:
    """The condition probe of a class-conditional image GAN (the condition_ignored detector's
    signals); None for other models."""
    if not bundle.conditional or ds.labels is None or ds.kind != "images" or _is_video(bundle):
        return None
    from gandiag.train.condition_probe import ConditionProbe

    pick = np.random.default_rng([seed, 11]).permutation(index)[:512]
    return ConditionProbe(
        torch.from_numpy(ds.batch(pick)),
        torch.from_numpy(np.asarray(ds.labels[pick])),
        bundle.num_classes,
        bundle.latent_dim,
        device,
        seed,
    )


# -- per step ---------------------------------------------------------------------------------
def _d_outputs(bundle: ModelBundle, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    D = bundle.discriminator
    if D is None:
        raise ValueError(f"model {bundle.name!r} has no discriminator to score held-out reals")
    if bundle.capabilities.conditional_discriminator:
        # the reals' own labels: a matching-aware D (StackGAN) rejects a real with another's
        if y is None:
            y = torch.arange(len(x), device=x.device) % bundle.num_classes
        return D(x, y.long())
    return D(x)


def _monitor_step(
    mon: Monitor,
    bundle: ModelBundle,
    step: int,
    out: dict[str, Any],
    d_val: torch.Tensor | None,
) -> list[Alert]:
    losses = out["losses"]
    if out.get("phase") is not None:
        mon.set_phase(*out["phase"])
    if bundle.kind == "gan":
        alerts = mon.step(
            step,
            losses=losses,
            d_real=out["d_real"],
            d_fake=out["d_fake"],
            real=out["real"],
            fake=out["fake"],
            d_val=d_val,
            labels=out.get("labels") if _is_video(bundle) else None,
        )
    else:
        alerts = mon.step(
            step,
            losses=losses,
            mu=out["mu"],
            logvar=out["logvar"],
            inputs=out["inputs"],
            recon=out["recon"],
        )
    if out.get("scalars"):  # a family's own signals (style/*, reg/*, level/*)
        mon.log_scalars(step, out["scalars"])
    return alerts


@torch.no_grad()
def _evaluate(
    cfg: TrainConfig,
    bundle: ModelBundle,
    stepper: Stepper,
    evaluator: Evaluator | VideoEvaluator,
    mon: Monitor,
    step: int,
    device: torch.device,
) -> None:
    # Its own generator, so evaluating (or not) never changes the training trajectory.
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + step)
    net = stepper.sample_net()
    was_training = net.training
    net.eval()
    try:
        chunks, asked = [], []
        for start in range(0, cfg.eval.num_samples, 500):
            n = min(500, cfg.eval.num_samples - start)
            z, y = bundle.sample_latent(n, gen, device)
            if bundle.kind == "gan":
                chunks.append(net(z, y) if bundle.conditional else net(z))
            else:
                chunks.append(cast(Autoencoder, net).decode(z))
            if bundle.conditional and y is not None:
                asked.append(y)
        samples = torch.cat(chunks).float()
        labels = torch.cat(asked) if asked else None
        if isinstance(evaluator, Evaluator):  # the class each sample was drawn for
            scalars, results = evaluator(samples, step, labels)
        else:
            scalars, results = evaluator(samples, step)
        scalars.update(metric_scalars(results))
        if scalars:
            mon.log_scalars(step, scalars)
        if results:
            mon.log_metrics(results)
        if samples.dim() == 2:
            shown = samples[:2048].cpu()
            mon.log_images(step, shown, name="eval", reference=evaluator.real_batch(len(shown)))
        elif cfg.eval.interpolation and samples.dim() == 4:
            reals = evaluator.real_batch(12).to(device)
            mon.log_images(step, interpolation(bundle, net, reals, gen), name="interpolation")
    except Exception as exc:  # noqa: BLE001 - evaluation must never kill a training run
        _log.warning("evaluation at step %d failed: %s: %s", step, type(exc).__name__, exc)
    finally:
        net.train(was_training)


class _Saved(Protocol):
    def state_dict(self) -> dict[str, Any]: ...


def _payload(
    bundle: ModelBundle,
    stepper: _Saved,
    batches: _Saved,
    gen: torch.Generator,
    mon: Monitor,
    step: int,
    runner: PolicyRunner,
) -> dict[str, Any]:
    """Everything a resume, a rollback or a doctor branch restores."""
    return {
        "step": step,
        "model": {"name": bundle.name, "options": bundle.options},
        "stepper": stepper.state_dict(),
        "batches": batches.state_dict(),
        "generator_state": gen.get_state(),
        "global_rng": global_rng_state(),
        "monitor": mon.state_dict(),
        "policy": {"rollbacks": runner.rollbacks},
    }
