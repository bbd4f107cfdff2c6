"""``gandiag.Monitor``: stream training signals out of any GAN or VAE loop.

The monitor watches; it never changes training: no gradient is modified, probe
forwards run in eval mode under ``no_grad`` with a forked RNG, and its random probe
batches come from its own seeded ``torch.Generator``.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gandiag import signals
from gandiag.advice import ENTRY_MONITOR
from gandiag.detectors.base import Detector
from gandiag.detectors.suite import DetectorSuite
from gandiag.log import get_logger, log_alert
from gandiag.monitor import probes, runtime, validate
from gandiag.monitor.buffer import StatBuffer
from gandiag.monitor.cadence import Cadence, PacedFamily, Pacer
from gandiag.monitor.coverage import CoverageProbe, FeatureFn
from gandiag.monitor.grads import GradProbes, loss_scale
from gandiag.monitor.latent import LatentProbe
from gandiag.monitor.video import VideoProbe
from gandiag.monitor.worker import Worker
from gandiag.roles import Role, networks_with_role, roles_to_json
from gandiag.sinks.base import Tee
from gandiag.store import STATUS_CRASHED, STATUS_FINISHED, RunWriter
from gandiag.types import Alert, MetricResult

#: a fake is a near-duplicate if another fake is closer than this times the mean
#: pairwise distance of the reals
DUP_THRESHOLD = 0.1
_log = get_logger("monitor")
_STATE_FORMAT = 2


class Monitor:
    """Watch a GAN (``generator=``, ``discriminator=``) or a VAE (``model=``) as it trains.

    Networks with other names or more roles go in ``networks={"netG": (G, "generator"),
    "netD": (D, "discriminator"), "M": (mapping, "mapping")}``; each network's role is
    recorded with the run and detectors find networks by role, never by name. The
    networks of one stage or level of a multi-stage model keep their role and name their
    stage: ``networks={"G_res8": (block, "generator", "res8")}``, or ``stages={name:
    stage}`` beside ``generator=``/``discriminator=`` dicts (see :mod:`gandiag.roles`).
    ``kind=`` records the model's kind (``"gan"``, ``"vae"``, ``"ae"``, a family name)
    and picks the default detector set when the registry has one for it.

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
        networks: Mapping[str, nn.Module | tuple[nn.Module, Role | str]] | None = None,
        roles: Mapping[str, Role | str] | None = None,
        stages: Mapping[str, str] | None = None,
        loss: str = "bce",
        kind: str | None = None,
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
        grad_scaler: Any = None,
        features: FeatureFn | None = None,
        sinks: Iterable[Any] = (),
    ) -> None:
        self.kind, gens, nets, self.roles, self.stages = validate.check_networks(
            generator, discriminator, model, networks, roles, stages
        )
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
        self.latent_dim = latent_dim
        scale = None if grad_scaler is None else loss_scale(grad_scaler)
        self._latent = LatentProbe(
            self.kind, gens, generate, encode, latent_dim, self.cadence, self.device, seed
        )
        self._video = VideoProbe(self.device)
        if features is not None and not callable(features):
            raise TypeError("features must be a callable x -> [N, F] tensor (the embedding)")
        cad = self.cadence
        self._coverage = CoverageProbe(
            every=int(cad.coverage),
            reservoir=cad.coverage_reservoir,
            probe=cad.coverage_probe,
            bins=cad.coverage_bins,
            generate=self._latent.generate,
            latent_dim=lambda: None if self._latent.z is None else int(self._latent.z.shape[1]),
            # a stage's discriminator scores that stage's inputs (a level's residual, a
            # resolution's images), not the samples: only whole discriminators embed them
            discriminators={
                k: nets[k]
                for k in networks_with_role(self.roles, Role.DISCRIMINATOR)
                if k in nets and k not in self.stages
            },
            modules=list(nets.values()),
            features=features,
            device=self.device,
            seed=seed,
            samples_every=int(cad.samples),
        )

        self.model_kind = validate.check_model_kind(kind, self.kind)
        self.rank, self.world, self._group = runtime.distributed()
        # periodic families paced by wall time on an accelerator (cadence.py); fixed on the
        # CPU and across ranks, which must flush the same entries
        on_device = self.device.type != "cpu"
        self._pace = Pacer(
            self.cadence,
            active=on_device and self.world == 1,
            sync=(lambda: torch.cuda.synchronize(self.device))
            if self.device.type == "cuda"
            else None,
        )
        # the default set of the kind, or of the reference model kind= names (its family's
        # detectors added: runtime.default_set)
        set_kind, family = runtime.default_set(self.model_kind, self.kind)
        if family and isinstance(detectors, str) and detectors == "default":
            from gandiag.detectors.suite import default_detectors

            detectors = default_detectors(set_kind, **family)
        self.suite = (
            runtime.resolve_detectors(detectors, set_kind) if self.rank == 0 else DetectorSuite([])
        )
        self.suite.bind(self.roles, self.stages)
        self._writer: RunWriter | None = None
        self._tee: Tee | None = None
        self._worker: Worker | None = None
        if self.rank == 0:
            self._writer = RunWriter(
                run_dir, config=config, name=name, kind=self.model_kind, resume=resume
            )
            # What replay needs to run exactly what ran live.
            self._writer.set_meta(
                entry_point=ENTRY_MONITOR,  # the reference trainer overwrites it
                kind=self.model_kind,
                detectors=self.suite.spec(),
                networks=roles_to_json(self.roles),
                network_stages=dict(self.stages),
            )
            # sinks (gandiag.sinks) receive what the store receives, on the worker thread
            self._tee = Tee(self._writer, sinks)
            self._worker = Worker(self._tee, self.suite)  # type: ignore[arg-type]
        self.run_dir = Path(run_dir)
        self._grads = GradProbes(nets, scale)
        self._buffer = StatBuffer(self.device, self.cadence.hist_bins)
        self._pending: list[int] = []
        # per step, scalars logged besides the buffer's: floats, or one-element tensors read
        # at the next flush (log_scalars)
        self._extra: dict[int, dict[str, float | torch.Tensor]] = {}
        self._wall: dict[int, float] = {}
        self._oldest = 0.0
        self._steps_since_flush = 0
        self._last_step: int | None = None
        self._last_from_log = False
        self._flushed_through: int | None = None
        self._first = True
        self._closed = False
        self._warned_error = False
        self._last_real: torch.Tensor | None = None
        self._phases: list[dict[str, Any]] = []  # {"name", "start_step"} in order
        self._phase: tuple[str, float | None] | None = None
        self._phase_new = False
        self._atexit = runtime.close_at_exit(self)

    @property
    def detectors(self) -> list[Detector]:
        """The detectors this monitor runs (its suite's, in feeding order)."""
        return self.suite.detectors

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
        labels: torch.Tensor | None = None,
    ) -> list[Alert]:
        """Record one training iteration; returns the alerts that became known since the last call.

        Call once per iteration, after that iteration's backward passes and optimizer
        steps. GAN: ``losses``, ``d_real``/``d_fake`` (raw D outputs, any shape ``[B, ...]``,
        or a list/dict of them for several discriminators), ``real``/``fake`` batches and
        optionally ``d_val`` (D on held-out reals, enables ``d/r_v``). Video GANs pass clips
        ``[B, T, C, H, W]`` as ``real``/``fake`` (video signals, ``video/*``) and optionally
        the fakes' class ``labels`` (per-class motion diversity). VAE: ``losses``,
        ``mu``, ``logvar``, ``inputs`` and ``recon``.
        """
        self._check_open()
        step = int(step)
        self._check_order(step)
        losses = validate.check_losses(losses)
        per_d = validate.per_discriminator(d_real, d_fake)
        d_real, d_fake = validate.as_outputs(d_real), validate.as_outputs(d_fake)
        d_val = validate.as_outputs(d_val)
        given = {
            "d_real": d_real,
            "d_fake": d_fake,
            "real": real,
            "fake": fake,
            "d_val": d_val,
            "mu": mu,
            "logvar": logvar,
            "inputs": inputs,
            "recon": recon,
        }
        validate.require_signals(self.kind, bool(self.cadence.samples), given)
        if self._first:
            validate.check_first_step(self.kind, given)
            self._first = False
        if self._pending and self._flush_due():
            self._flush()
        self._steps_since_flush += 1
        if not (self._last_from_log and self._pending and self._pending[-1] == step):
            self._add_step(step)
        self._last_step, self._last_from_log = step, False
        self._record_phase(step)

        buf, pace = self._buffer, self._pace
        pace.start()
        names = list(losses)
        buf.add(step, *probes.loss_stats(names, [self._as_tensor(losses[n]) for n in names]))
        layers_due = pace.due("layers", step)
        weights_due = layers_due or pace.due("layers", step + 1) or pace.due("layers", step + 2)
        with pace.charge("layers") if weights_due else contextlib.nullcontext():
            for probe in self._grads.probes:
                taken = probe.take(step, layers_due)
                if taken is not None:
                    buf.add(step, *taken)
                for stat in probe.weights(step, layers_due, lambda s: pace.due("layers", s)):
                    buf.add(step, *stat)
        if self.kind == "gan":
            assert d_real is not None and d_fake is not None  # require_signals raised if not
            self._gan_step(step, d_real, d_fake, real, fake, d_val, labels)
            for name, (r, f) in per_d.items():
                buf.add(step, *probes.d_net_stats(name, r, f, self.loss_kind == "bce"))
        else:
            assert mu is not None and logvar is not None  # require_signals raised if not
            assert inputs is not None and recon is not None
            self._vae_step(step, mu, logvar, inputs, recon)
        self._coverage_step(step, real if self.kind == "gan" else inputs, fake)
        return self._drain_alerts()

    def due(self, family: str, step: int) -> bool:
        """Whether the monitor measures ``family`` ("layers", "histograms", "samples",
        "grid", "coverage") at ``step``: its cadence, paced by wall time on an accelerator
        (:class:`~gandiag.monitor.cadence.Pacer`). A loop's own probes that go with a
        family ask this, and run inside :meth:`charge`, to keep to the same budget."""
        return self._pace.due(family, step)

    def charge(self, family: str) -> contextlib.AbstractContextManager[None]:
        """Count the time of the block as ``family``'s (see :meth:`due`)."""
        return self._pace.charge(family)

    def family(self, name: str, every: int) -> PacedFamily:
        """A loop's own periodic probe, every ``every`` steps, paced with the monitor's
        families: ``fam.due(step)``, ``with fam.charge(): ...`` (on the CPU: every
        ``every`` steps, exactly)."""
        return self._pace.family(name, every)

    def set_phase(self, name: str, alpha: float | None = None) -> None:
        """Declare the current phase (resolution, pyramid level, stage) and its blend weight.

        Call before ``mon.step`` whenever it may have changed (every step is fine). Every
        following step records ``phase/index`` (the phase's position in the run's phase
        list) and ``phase/alpha`` (when given, e.g. the fade-in weight); a new name starts
        a phase, stored in the run's meta ``"phases"`` as ``{"name", "start_step"}``
        (see :func:`gandiag.phases.read_phases`).
        """
        self._check_open()
        if not isinstance(name, str) or not name:
            raise ValueError(f"set_phase: name must be a non-empty string, got {name!r}")
        if alpha is not None:
            alpha = float(alpha)
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"set_phase: alpha must be in [0, 1], got {alpha}")
        if self._phase is None or self._phase[0] != name:
            self._phase_new = True
        self._phase = (name, alpha)

    def _record_phase(self, step: int) -> None:
        if self._phase is None:
            return
        name, alpha = self._phase
        if self._phase_new:
            self._phases.append({"name": name, "start_step": step})
            self._phase_new = False
            if self._worker is not None:
                phases = [dict(p) for p in self._phases]
                writer = self._worker.writer
                self._worker.submit(lambda: writer.set_meta(phases=phases))
        values = {signals.PHASE_INDEX: float(len(self._phases) - 1)}
        if alpha is not None:
            values[signals.PHASE_ALPHA] = alpha
        self._extra.setdefault(step, {}).update(values)

    def log_scalars(self, step: int, values: Mapping[str, float | torch.Tensor]) -> None:
        """Add scalars (``eval/*`` names or a family's own signals from gandiag.signals) to
        ``step``.

        Log them for the current step (after ``mon.step(step)`` and before the next
        call) or for a later one; a step already flushed to the store cannot change,
        because the detectors have already seen it. A value may be a number or a
        one-element tensor: a tensor (on the GPU, say) is read when the records are
        flushed, with the others of the flush, so logging it costs no host sync per step.
        """
        self._check_open()
        step = int(step)
        if self._flushed_through is not None and step <= self._flushed_through:
            raise ValueError(
                f"log_scalars: step {step} was already flushed to the store and seen by the "
                f"detectors; log evaluation scalars for the current step ({self._last_step}) "
                "before the next mon.step call"
            )
        clean: dict[str, float | torch.Tensor] = {}
        for key, value in values.items():
            if not isinstance(key, str) or "/" not in key:
                raise ValueError(
                    f"log_scalars: {key!r} is not a signal name; use names from gandiag.signals "
                    "such as 'eval/modes_covered' or signals.eval_metric('fid')"
                )
            if isinstance(value, torch.Tensor):
                if value.numel() != 1:
                    raise ValueError(
                        f"log_scalars: {key!r} is a tensor of shape {tuple(value.shape)}; "
                        "log one number (a one-element tensor) per name"
                    )
                clean[key] = value.detach().reshape(()).clone()  # a copy on its device
            else:
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

    def log_images(
        self, step: int, images: Any, name: str = "samples", *, reference: Any = None
    ) -> None:
        """Store a sample grid: PNG bytes, ``[N, C, H, W]`` images in ``image_range``, or 2-D
        points ``[N, 2]``. With points, ``reference`` (real points ``[M, 2]``) is drawn
        beside them in the dashboard's and the report's scatter."""
        self._check_open()
        if self._worker is None:
            return
        if isinstance(images, torch.Tensor):
            images = images.detach().float().cpu().clone()
        if isinstance(reference, torch.Tensor):
            reference = reference.detach().float().cpu().clone()
        self._worker.submit_image(int(step), name, images, reference)

    def flush(self) -> list[Alert]:
        """Send every buffered step to the detectors and the store, wait for both, and return
        the alerts that became known (a policy acting on alerts needs them now)."""
        self._check_open()
        self._flush()
        if self._worker is not None:
            self._worker.drain()
        return self._drain_alerts()

    def set_meta(self, **values: Any) -> None:
        """Record JSON-serialisable facts about the run in its metadata (rank 0 writes)."""
        if self._writer is not None:
            self._writer.set_meta(**values)

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
            "detectors": self.suite.state_dict(),
            "phases": [dict(p) for p in self._phases],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore detector states saved by :meth:`state_dict` (call before the first step).

        Whatever the run store holds after the saved step (written by the process that
        crashed after its checkpoint) is removed, so the resumed run's history and alerts
        are those of the trajectory that continues.
        """
        fmt = state.get("format")
        if fmt not in (1, _STATE_FORMAT):
            raise ValueError(
                f"monitor state has format {fmt!r}, expected {_STATE_FORMAT}; "
                "pass the dict returned by Monitor.state_dict()"
            )
        saved = state.get("detectors", {})
        if fmt == 1:  # a list of {"name", "state"} (checkpoints written before format 2)
            saved = {s["name"]: s["state"] for s in saved}
        if self.rank == 0:
            if list(saved) != self.suite.names:
                raise ValueError(
                    f"monitor state holds detectors {list(saved)} but this monitor runs "
                    f"{self.suite.names}; construct the Monitor with the same detectors= as the "
                    "saved run"
                )
            self.suite.load_state_dict(saved)
        self._phases = [dict(p) for p in state.get("phases", [])]
        if self._phases:
            self._phase, self._phase_new = (self._phases[-1]["name"], None), False
        last = state.get("last_step")
        if last is not None:
            self._last_step = int(last)
            self._flushed_through = int(last)
            if self._writer is not None:  # records the crashed process wrote after the checkpoint
                self._writer.truncate_after(int(last))

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
            if self._writer is not None and self._pace.active:
                pacing = self._pace.summary()
                self._writer.set_meta(pacing=pacing)
                if pacing["skipped"] and not self.quiet:
                    _log.info(
                        "gandiag Monitor kept its periodic probes within %.0f%% of wall time: "
                        "ran %s, skipped %s due steps",
                        100 * self.cadence.budget,
                        pacing["ran"],
                        pacing["skipped"],
                    )
        finally:
            self._closed = True
            self._grads.remove()
            if self._tee is not None:
                self._tee.close_sinks()
            if self._writer is not None:
                self._writer.close(status)
            if self._atexit is not None:
                atexit.unregister(self._atexit)
        return alerts

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Monitor:  # noqa: PYI034 - subclasses are not expected
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close(STATUS_FINISHED)
            return
        try:  # keep what was measured up to the crash: it shows what went wrong
            if self.world == 1:  # (a flush is a collective other ranks may never join)
                self._flush()
        except Exception as flush_error:  # noqa: BLE001 - the original exception matters more
            _log.warning("gandiag Monitor could not flush after the crash: %s", flush_error)
        self.close(STATUS_CRASHED)

    # -- per-kind steps ---------------------------------------------------------------------
    def _gan_step(
        self,
        step: int,
        d_real: torch.Tensor,
        d_fake: torch.Tensor,
        real: torch.Tensor | None,
        fake: torch.Tensor | None,
        d_val: torch.Tensor | None,
        labels: torch.Tensor | None = None,
    ) -> None:
        buf, cad, pace = self._buffer, self.cadence, self._pace
        prob = self.loss_kind == "bce"
        buf.add(step, *probes.d_output_stats(d_real, d_fake, d_val, prob))
        if pace.due("histograms", step):
            with pace.charge("histograms"):
                self._histograms(step, d_real, d_fake, prob)
        if real is not None and fake is not None and pace.due("samples", step):
            with pace.charge("samples"):
                buf.add(step, *probes.sample_stats(real, fake, cad.max_pairwise, DUP_THRESHOLD))
                stat = self._latent.sensitivity(signals.SAMPLES_LATENT_SENSITIVITY)
                if stat is not None:
                    buf.add(step, *stat)
                if real.dim() == 5:
                    stat = self._video.stats(real, fake, labels)
                    if stat is not None:
                        buf.add(step, *stat)
        if real is not None and pace.due("grid", step):
            self._last_real = real.detach()[: cad.grid_size * 8]
        self._grid(step)

    def _histograms(
        self, step: int, d_real: torch.Tensor, d_fake: torch.Tensor, prob: bool
    ) -> None:
        buf = self._buffer
        rng = (0.0, 1.0) if prob else None
        r, f = d_real.detach().reshape(-1), d_fake.detach().reshape(-1)
        if prob:
            buf.add_histogram(step, signals.HIST_D_REAL, torch.sigmoid(r), rng)
            buf.add_histogram(step, signals.HIST_D_FAKE, torch.sigmoid(f), rng)
        else:  # raw critic values: one range for both, so a figure can overlay them
            both = torch.cat([r, f.to(r.device)])
            buf.add_histogram(step, signals.HIST_D_REAL, r, range_of=both)
            buf.add_histogram(step, signals.HIST_D_FAKE, f, range_of=both)

    def _vae_step(
        self,
        step: int,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        inputs: torch.Tensor,
        recon: torch.Tensor,
    ) -> None:
        buf, pace = self._buffer, self._pace
        samples_due = pace.due("samples", step)
        buf.add(step, *probes.vae_stats(mu, logvar, inputs, recon, per_dim=samples_due))
        self._latent.ensure_latents(int(mu.shape[1]))
        if samples_due:
            with pace.charge("samples"):
                self._vae_samples(step, mu, inputs)
        self._grid(step)

    def _vae_samples(self, step: int, mu: torch.Tensor, inputs: torch.Tensor) -> None:
        buf, cad = self._buffer, self.cadence
        buf.add(step, *probes.active_units(self._latent.posterior_means(inputs, mu)))
        stat = self._latent.sensitivity(signals.VAE_DECODER_SENSITIVITY)
        if stat is not None:
            buf.add(step, *stat)
        decoded = self._latent.prior_samples()
        if decoded is not None and inputs is not None and inputs.shape[0] >= 2:
            # the decoder's samples from the prior against the batch of inputs: the
            # same batch-diversity signals a GAN gets from real= and fake=
            buf.add(step, *probes.sample_stats(inputs, decoded, cad.max_pairwise, DUP_THRESHOLD))

    def _coverage_step(
        self, step: int, real: torch.Tensor | None, fake: torch.Tensor | None
    ) -> None:
        cov = self._coverage
        if self.rank != 0 or not cov.enabled:
            return
        cov.observe(step, real, fake)
        if cov.due(step) and self._pace.due("coverage", step):
            with self._pace.charge("coverage"):
                scalars = cov.evaluate(step)
            if scalars:
                self._extra.setdefault(step, {}).update(scalars)

    def _grid(self, step: int) -> None:
        if self._worker is None or not self._pace.due("grid", step):
            return
        with self._pace.charge("grid"):
            images = self._latent.samples()
        if images is None:
            return
        if images.dim() == 2 and images.shape[1] == 2:
            ref = None if self._last_real is None else self._last_real.float().cpu().reshape(-1, 2)
            self._worker.submit_image(step, "samples", images, ref)
        elif images.dim() == 4 and images.shape[1] in (1, 3):
            lo, hi = self.image_range
            self._worker.submit_image(step, "samples", (images - lo) / (hi - lo) * 2.0 - 1.0)

    # -- flushing ---------------------------------------------------------------------------
    def _add_step(self, step: int) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(step)
        self._wall[step] = time.time()

    def _flush_due(self) -> bool:
        # Counted in mon.step calls, not pending records: log_scalars may add records on
        # one rank only, and every rank must flush (all-reduce) at the same call.
        if self._steps_since_flush >= self.cadence.flush:
            return True
        if self.world == 1 and self.cadence.flush_seconds > 0:
            return time.monotonic() - self._oldest >= self.cadence.flush_seconds
        return False

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = self._buffer.flush(self._group, self.world)
        steps, extra, wall = self._pending, _on_host(self._extra), self._wall
        self._pending, self._extra, self._wall = [], {}, {}
        self._steps_since_flush = 0
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
                log_alert(alert)
        return out

    def _raise_worker_error(self) -> None:
        err = self._worker.error if self._worker is not None else None
        if err is not None and not self._warned_error:
            self._warned_error = True
            _log.warning(
                "gandiag Monitor stopped writing to %s after an error in its background "
                "thread (%s: %s); training continues unmonitored",
                self.run_dir,
                type(err).__name__,
                err,
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

    # -- helpers ----------------------------------------------------------------------------
    def _as_tensor(self, value: torch.Tensor | float) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.detach()
        return torch.full((), float(value), dtype=torch.float64, device=self.device)


def _on_host(extra: dict[int, dict[str, float | torch.Tensor]]) -> dict[int, dict[str, float]]:
    """``extra`` with its tensors read as floats: one transfer per device for the flush."""
    out: dict[int, dict[str, float]] = {}
    pending: dict[torch.device, list[tuple[int, str, torch.Tensor]]] = {}
    for step, row in extra.items():
        out[step] = {}
        for k, v in row.items():
            if isinstance(v, torch.Tensor):
                pending.setdefault(v.device, []).append((step, k, v))
                out[step][k] = math.nan  # its place in the row; read below
            else:
                out[step][k] = v
    for entries in pending.values():
        values = torch.stack([v.to(torch.float64) for _, _, v in entries]).cpu().tolist()
        for (step, k, _), value in zip(entries, values):
            out[step][k] = float(value)
    return out
