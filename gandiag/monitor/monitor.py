"""``gandiag.Monitor``: stream training signals out of any GAN or VAE loop.

The monitor watches; it never changes training: no gradient is modified, probe
forwards run in eval mode under ``no_grad`` with a forked RNG, and its random probe
batches come from its own seeded ``torch.Generator``.
"""

from __future__ import annotations

import atexit
import sys
import time
import warnings
import weakref
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from gandiag import signals
from gandiag.detectors.base import Detector
from gandiag.monitor import probes, validate
from gandiag.monitor.buffer import StatBuffer
from gandiag.monitor.cadence import Cadence
from gandiag.monitor.grads import GradProbes
from gandiag.monitor.worker import Worker
from gandiag.store import STATUS_CRASHED, STATUS_FINISHED, RunWriter
from gandiag.types import Alert, MetricResult

#: perturbation scale of the latent / decoder sensitivity probes (delta = EPS * N(0, I))
SENSITIVITY_EPS = 0.01
#: a fake is a near-duplicate if another fake is closer than this times the mean
#: pairwise distance of the reals
DUP_THRESHOLD = 0.1
_STATE_FORMAT = 1


class Monitor:
    """Watch a GAN (``generator=``, ``discriminator=``) or a VAE (``model=``) as it trains.

    >>> mon = gandiag.Monitor("runs/dcgan", generator=G, discriminator=D, latent_dim=64)  # doctest: +SKIP
    >>> for step, x in enumerate(loader):                                                  # doctest: +SKIP
    ...     ...  # the usual D and G updates
    ...     mon.step(step, losses={"G": loss_g, "D": loss_d}, d_real=out_real, d_fake=out_fake,
    ...              real=x, fake=fake)
    >>> mon.close()                                                                         # doctest: +SKIP

    See ``docs/monitor.md`` for every argument and signal.
    """

    def __init__(
        self,
        run_dir: str | Path,
        generator: nn.Module | Mapping[str, nn.Module] | None = None,
        discriminator: nn.Module | Mapping[str, nn.Module] | None = None,
        model: nn.Module | None = None,
        *,
        loss: str = "bce",
        latent_dim: int | None = None,
        generate: Callable[[torch.Tensor], torch.Tensor] | None = None,
        encode: Callable[[torch.Tensor], Any] | None = None,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        resume: bool = False,
        cadence: Cadence | None = None,
        detectors: str | Iterable[Detector] | None = "default",
        device: str | torch.device | None = None,
        image_range: tuple[float, float] = (-1.0, 1.0),
        seed: int = 0,
        on_alert: Callable[[Alert], None] | None = None,
        quiet: bool = False,
    ) -> None:
        self.kind, gens, nets = validate.check_networks(generator, discriminator, model)
        self.loss_kind = validate.check_loss_kind(loss)
        self.cadence = cadence if cadence is not None else Cadence()
        if not isinstance(self.cadence, Cadence):
            raise TypeError("cadence must be a gandiag.monitor.Cadence(...)")
        if latent_dim is not None and (not isinstance(latent_dim, int) or latent_dim < 1):
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        first_param = next(iter(nets.values())).parameters()
        self.device = torch.device(device) if device is not None else next(first_param).device
        self.image_range = (float(image_range[0]), float(image_range[1]))
        self.on_alert, self.quiet = on_alert, quiet
        self._nets = nets
        self._gen_modules = list(gens.values())
        self._generate, self._encode = self._resolve_probes(gens, generate, encode, latent_dim)
        self.latent_dim = latent_dim
        self._seed = int(seed)
        self._probe_z: torch.Tensor | None = None
        self._probe_delta: torch.Tensor | None = None
        self._grid_z: torch.Tensor | None = None
        self._probe_inputs: torch.Tensor | None = None
        if latent_dim is not None:
            self._make_latents(latent_dim)

        self.rank, self.world, self._group = _distributed()
        detector_list = _resolve_detectors(detectors, self.kind) if self.rank == 0 else []
        self._writer: RunWriter | None = None
        self._worker: Worker | None = None
        if self.rank == 0:
            self._writer = RunWriter(run_dir, config=config, name=name, kind=self.kind, resume=resume)
            self._worker = Worker(self._writer, detector_list)
        self.run_dir = Path(run_dir)
        self.detectors = detector_list
        self._grads = GradProbes(nets)
        self._buffer = StatBuffer(self.device, self.cadence.hist_bins)
        self._pending: list[int] = []
        self._extra: dict[int, dict[str, float]] = {}
        self._wall: dict[int, float] = {}
        self._oldest = 0.0
        self._last_step: int | None = None
        self._last_from_log = False
        self._flushed_through: int | None = None
        self._first = True
        self._closed = False
        self._warned_error = False
        self._last_real: torch.Tensor | None = None
        self._atexit = _register_atexit(self)

    # -- public API -------------------------------------------------------------------------
    def step(
        self,
        step: int,
        losses: Mapping[str, torch.Tensor | float] | None = None,
        *,
        d_real: torch.Tensor | None = None,
        d_fake: torch.Tensor | None = None,
        real: torch.Tensor | None = None,
        fake: torch.Tensor | None = None,
        d_val: torch.Tensor | None = None,
        mu: torch.Tensor | None = None,
        logvar: torch.Tensor | None = None,
        inputs: torch.Tensor | None = None,
        recon: torch.Tensor | None = None,
    ) -> list[Alert]:
        """Record one training iteration; returns the alerts that became known since the last call.

        Call once per iteration, after that iteration's backward passes and optimizer
        steps. GAN: ``losses``, ``d_real``/``d_fake`` (raw D outputs, any shape ``[B, ...]``,
        or a list/dict of them for several discriminators), ``real``/``fake`` batches and
        optionally ``d_val`` (D on held-out reals, enables ``d/r_v``). VAE: ``losses``,
        ``mu``, ``logvar``, ``inputs`` and ``recon``.
        """
        self._check_open()
        step = int(step)
        self._check_order(step)
        losses = validate.check_losses(losses)
        d_real, d_fake, d_val = _outputs(d_real), _outputs(d_fake), _outputs(d_val)
        if self._first:
            self._validate_first(d_real, d_fake, real, fake, d_val, mu, logvar, inputs, recon)
            self._first = False
        else:
            self._require(d_real, d_fake, real, fake, mu, logvar, inputs, recon)
        if self._pending and self._flush_due(step):
            self._flush()
        if not (self._last_from_log and self._pending and self._pending[-1] == step):
            self._add_step(step)
        self._last_step, self._last_from_log = step, False

        buf, cad = self._buffer, self.cadence
        names = list(losses)
        buf.add(step, *probes.loss_stats(names, [self._as_tensor(losses[n]) for n in names]))
        layers_due = cad.due("layers", step)
        for probe in self._grads.probes:
            taken = probe.take(step, layers_due)
            if taken is not None:
                buf.add(step, *taken)
            for stat in probe.weights(step, layers_due, lambda s: cad.due("layers", s)):
                buf.add(step, *stat)
        if self.kind == "gan":
            self._gan_step(step, d_real, d_fake, real, fake, d_val)
        else:
            self._vae_step(step, mu, logvar, inputs, recon)
        return self._drain_alerts()

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Add periodic-evaluation scalars (``eval/*`` names from gandiag.signals) to ``step``.

        Log them for the current step (after ``mon.step(step)`` and before the next
        call) or for a later one; a step already flushed to the store cannot change,
        because the detectors have already seen it.
        """
        self._check_open()
        step = int(step)
        if self._flushed_through is not None and step <= self._flushed_through:
            raise ValueError(
                f"log_scalars: step {step} was already flushed to the store and seen by the "
                f"detectors; log evaluation scalars for the current step ({self._last_step}) "
                "before the next mon.step call"
            )
        clean = {}
        for key, value in values.items():
            if not isinstance(key, str) or "/" not in key:
                raise ValueError(
                    f"log_scalars: {key!r} is not a signal name; use names from gandiag.signals "
                    "such as 'eval/modes_covered' or signals.eval_metric('fid')"
                )
            clean[key] = float(value)
        if step not in self._wall:
            if self._last_step is not None and step < self._last_step:
                raise ValueError(
                    f"log_scalars: step {step} is before the last step {self._last_step}"
                )
            self._add_step(step)
            self._last_step, self._last_from_log = step, True
        self._extra.setdefault(step, {}).update(clean)

    def log_metrics(self, results: Iterable[MetricResult]) -> None:
        """Store metric results (FID, KID, ...) computed during training."""
        self._check_open()
        results = list(results)
        if self._worker is not None and results:
            self._worker.submit_metrics(results)

    def log_images(self, step: int, images: Any, name: str = "samples") -> None:
        """Store a sample grid: PNG bytes, ``[N, C, H, W]`` images in ``image_range``, or 2-D points."""
        self._check_open()
        if self._worker is None:
            return
        if isinstance(images, torch.Tensor):
            images = images.detach().float().cpu().clone()
        self._worker.submit_image(int(step), name, images)

    def state_dict(self) -> dict[str, Any]:
        """Detector states and the last step, for resuming (flushes and waits for the store)."""
        self._check_open()
        self._flush()
        if self._worker is not None:
            self._worker.drain()
        self._raise_worker_error()
        return {
            "format": _STATE_FORMAT,
            "last_step": self._last_step,
            "detectors": [{"name": d.name, "state": d.state_dict()} for d in self.detectors],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore detector states saved by :meth:`state_dict` (call before the first step)."""
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(
                f"monitor state has format {state.get('format')!r}, expected {_STATE_FORMAT}; "
                "pass the dict returned by Monitor.state_dict()"
            )
        saved = list(state.get("detectors", []))
        if self.rank == 0:
            names = [d.name for d in self.detectors]
            if [s["name"] for s in saved] != names:
                raise ValueError(
                    f"monitor state holds detectors {[s['name'] for s in saved]} but this monitor "
                    f"runs {names}; construct the Monitor with the same detectors= as the saved run"
                )
            for det, s in zip(self.detectors, saved):
                det.load_state_dict(s["state"])
        last = state.get("last_step")
        if last is not None:
            self._last_step = int(last)
            self._flushed_through = int(last)

    def close(self, status: str = STATUS_FINISHED) -> list[Alert]:
        """Flush, wait for the store, mark the run ``status``; returns the last alerts."""
        if self._closed:
            return []
        alerts: list[Alert] = []
        try:
            if status == STATUS_FINISHED:
                self._flush()
            if self._worker is not None:
                self._worker.drain()
                alerts = self._drain_alerts()
                self._worker.stop()
        finally:
            self._closed = True
            self._grads.remove()
            if self._writer is not None:
                self._writer.close(status)
            if self._atexit is not None:
                atexit.unregister(self._atexit)
        return alerts

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close(STATUS_FINISHED)
        else:
            try:  # keep what was measured up to the crash: it shows what went wrong
                self._flush()
            except Exception:  # noqa: BLE001 - the original exception matters more
                pass
            self.close(STATUS_CRASHED)

    # -- per-kind steps ---------------------------------------------------------------------
    def _gan_step(self, step, d_real, d_fake, real, fake, d_val) -> None:
        buf, cad = self._buffer, self.cadence
        prob = self.loss_kind == "bce"
        buf.add(step, *probes.d_output_stats(d_real, d_fake, d_val, prob))
        if cad.due("histograms", step):
            rng = (0.0, 1.0) if prob else None
            r, f = d_real.detach().reshape(-1), d_fake.detach().reshape(-1)
            if prob:
                buf.add_histogram(step, signals.HIST_D_REAL, torch.sigmoid(r), rng)
                buf.add_histogram(step, signals.HIST_D_FAKE, torch.sigmoid(f), rng)
            else:  # raw critic values: one range for both, so a figure can overlay them
                both = torch.cat([r, f.to(r.device)])
                buf.add_histogram(step, signals.HIST_D_REAL, r, range_of=both)
                buf.add_histogram(step, signals.HIST_D_FAKE, f, range_of=both)
        if cad.due("samples", step) and real is not None and fake is not None:
            buf.add(step, *probes.sample_stats(real, fake, cad.max_pairwise, DUP_THRESHOLD))
            if self._generate is not None:
                with probes.probing(self._gen_modules, self.device):
                    stat = probes.sensitivity(
                        self._generate, self._probe_z, self._probe_delta,
                        signals.SAMPLES_LATENT_SENSITIVITY,
                    )
                buf.add(step, *stat)
        if real is not None and cad.due("grid", step):
            self._last_real = real.detach()[: cad.grid_size * 8]
        self._grid(step)

    def _vae_step(self, step, mu, logvar, inputs, recon) -> None:
        buf, cad = self._buffer, self.cadence
        samples_due = cad.due("samples", step)
        buf.add(step, *probes.vae_stats(mu, logvar, inputs, recon, per_dim=samples_due))
        if self._probe_z is None:
            self._make_latents(int(mu.shape[1]))
        if self._probe_inputs is None and self._encode is not None:
            self._probe_inputs = inputs.detach()[: cad.probe_size].clone()
        if not samples_due:
            self._grid(step)
            return
        if self._encode is not None and self._probe_inputs.shape[0] >= 2:
            with probes.probing(self._gen_modules, self.device):
                probe_mu = _first(self._encode(self._probe_inputs))
            buf.add(step, *probes.active_units(probe_mu))
        else:
            buf.add(step, *probes.active_units(mu))
        if self._generate is not None:
            with probes.probing(self._gen_modules, self.device):
                stat = probes.sensitivity(
                    self._generate, self._probe_z, self._probe_delta, signals.VAE_DECODER_SENSITIVITY
                )
            buf.add(step, *stat)
        self._grid(step)

    def _grid(self, step: int) -> None:
        if self._worker is None or self._generate is None or self._grid_z is None:
            return
        if not self.cadence.due("grid", step):
            return
        with probes.probing(self._gen_modules, self.device):
            images = self._generate(self._grid_z[: self.cadence.grid_size])
            if images.dim() == 2 and images.shape[1] == 2:  # 2-D data: a denser scatter
                images = self._generate(self._grid_z)
        images = images.detach().float().cpu()
        if images.dim() == 2 and images.shape[1] == 2:
            ref = None if self._last_real is None else self._last_real.float().cpu().reshape(-1, 2)
            self._worker.submit_image(step, "samples", images, ref)
        elif images.dim() == 4 and images.shape[1] in (1, 3):
            lo, hi = self.image_range
            scaled = (images - lo) / (hi - lo) * 2.0 - 1.0
            self._worker.submit_image(step, "samples", scaled)

    # -- flushing ---------------------------------------------------------------------------
    def _add_step(self, step: int) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(step)
        self._wall[step] = time.time()

    def _flush_due(self, step: int) -> bool:
        if len(self._pending) >= self.cadence.flush:
            return True
        if self.world == 1 and self.cadence.flush_seconds > 0:
            return time.monotonic() - self._oldest >= self.cadence.flush_seconds
        return False

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = self._buffer.flush(self._group, self.world)
        steps, extra, wall = self._pending, self._extra, self._wall
        self._pending, self._extra, self._wall = [], {}, {}
        self._flushed_through = steps[-1]
        if self._worker is not None:
            self._worker.submit_records(batch, steps, extra, wall)

    def _drain_alerts(self) -> list[Alert]:
        if self._worker is None:
            return []
        self._raise_worker_error()
        out: list[Alert] = []
        while self._worker.outbox:
            out.append(self._worker.outbox.popleft())
        for alert in out:
            if self.on_alert is not None:
                self.on_alert(alert)
            elif not self.quiet:
                print(alert.one_line(), file=sys.stderr)
        return out

    def _raise_worker_error(self) -> None:
        err = self._worker.error if self._worker is not None else None
        if err is not None and not self._warned_error:
            self._warned_error = True
            warnings.warn(
                f"gandiag Monitor stopped writing to {self.run_dir} after an error in its "
                f"background thread ({type(err).__name__}: {err}); training continues "
                "unmonitored",
                RuntimeWarning,
                stacklevel=3,
            )

    # -- checks -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Monitor is closed; create a new one (resume=True to continue)")

    def _check_order(self, step: int) -> None:
        last = self._last_step
        if last is None or step > last or (step == last and self._last_from_log):
            return
        raise ValueError(
            f"mon.step: step {step} does not come after the previous step {last}; pass an "
            "increasing step number (the iteration count)"
        )

    def _validate_first(self, d_real, d_fake, real, fake, d_val, mu, logvar, inputs, recon) -> None:
        self._require(d_real, d_fake, real, fake, mu, logvar, inputs, recon)
        if self.kind == "gan":
            validate.check_tensor("d_real", d_real)
            validate.check_tensor("d_fake", d_fake)
            if d_val is not None:
                validate.check_tensor("d_val", d_val)
            if real is not None or fake is not None:
                validate.require("real", real, "the real batch of this step")
                validate.require("fake", fake, "the generated batch of this step")
                validate.check_tensor("real", real, batch=True)
                validate.check_tensor("fake", fake, batch=True)
                validate.check_same_shape("fake", fake, "real", real, from_dim=1)
            return
        validate.check_tensor("mu", mu, min_dim=2, batch=True)
        validate.check_tensor("logvar", logvar, min_dim=2)
        if mu.dim() != 2:
            raise ValueError(
                f"mon.step(...): `mu` has shape {tuple(mu.shape)}; pass the posterior means "
                "flattened to [B, latent_dim]"
            )
        validate.check_same_shape("logvar", logvar, "mu", mu, from_dim=0)
        validate.check_tensor("inputs", inputs)
        validate.check_tensor("recon", recon)
        validate.check_same_shape("recon", recon, "inputs", inputs, from_dim=0)

    def _require(self, d_real, d_fake, real, fake, mu, logvar, inputs, recon) -> None:
        if self.kind == "gan":
            validate.require("d_real", d_real, "raw discriminator outputs on the real batch")
            validate.require("d_fake", d_fake, "raw discriminator outputs on the fake batch")
            if self.cadence.samples:
                validate.require("real", real, "the real batch, for the sample statistics")
                validate.require("fake", fake, "the generated batch, for the sample statistics")
            return
        validate.require("mu", mu, "the posterior means, [B, latent_dim]")
        validate.require("logvar", logvar, "the posterior log-variances, [B, latent_dim]")
        validate.require("inputs", inputs, "the batch the VAE encoded")
        validate.require("recon", recon, "the reconstructions, same shape as inputs")

    # -- helpers ----------------------------------------------------------------------------
    def _as_tensor(self, value: torch.Tensor | float) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.detach()
        return torch.full((), float(value), dtype=torch.float64, device=self.device)

    def _resolve_probes(self, gens, generate, encode, latent_dim):
        if self.kind == "vae":
            model = next(iter(gens.values()))
            decode = generate if generate is not None else getattr(model, "decode", None)
            enc = encode if encode is not None else getattr(model, "encode", None)
            if decode is None:
                warnings.warn(
                    "the VAE has no .decode(z); pass generate=<z -> images> to get decoder "
                    "sensitivity and sample grids",
                    stacklevel=3,
                )
            return decode, enc
        if latent_dim is None:
            return None, None
        if generate is not None:
            return generate, None
        if len(gens) != 1:
            raise ValueError(
                "latent_dim with several generators needs generate=<callable z -> images> "
                "saying which generator the latent probes drive"
            )
        return next(iter(gens.values())), None

    def _make_latents(self, dim: int) -> None:
        cad = self.cadence
        rng = torch.Generator(device="cpu").manual_seed(self._seed)
        self._probe_z = torch.randn(cad.probe_size, dim, generator=rng).to(self.device)
        self._probe_delta = SENSITIVITY_EPS * torch.randn(cad.probe_size, dim, generator=rng).to(self.device)
        self._grid_z = torch.randn(cad.grid_size * 8, dim, generator=rng).to(self.device)


def _outputs(x: Any) -> torch.Tensor | None:
    """D outputs as one tensor: several discriminators' outputs are flattened and joined."""
    if x is None or isinstance(x, torch.Tensor):
        return x
    items = list(x.values()) if isinstance(x, Mapping) else list(x)
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise TypeError(
            "discriminator outputs must be a tensor, or a list/dict of tensors for several "
            "discriminators"
        )
    return torch.cat([t.reshape(-1) for t in items])


def _first(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0]
    raise TypeError("encode(x) must return mu or a tuple (mu, logvar, ...)")


def _distributed() -> tuple[int, int, Any]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), None
    return 0, 1, None


def _resolve_detectors(spec: Any, kind: str) -> list[Detector]:
    if spec is None:
        return []
    if isinstance(spec, str):
        if spec != "default":
            raise ValueError(f"detectors must be 'default', None or a list of Detector, not {spec!r}")
        try:
            from gandiag.detectors import default_detectors  # type: ignore[attr-defined]
        except ImportError:
            warnings.warn(
                "gandiag.detectors.default_detectors is not available; running no detectors",
                stacklevel=3,
            )
            return []
        return list(default_detectors(kind))
    dets = list(spec)
    for d in dets:
        if not isinstance(d, Detector):
            raise TypeError(f"detectors must be Detector instances, got {type(d).__name__}")
    return dets


def _register_atexit(mon: Monitor) -> Callable[[], None]:
    ref = weakref.ref(mon)

    def _close() -> None:
        m = ref()
        if m is not None and not m._closed:
            warnings.warn("gandiag Monitor was not closed; closing it at exit (call mon.close())")
            m.close()

    atexit.register(_close)
    return _close

