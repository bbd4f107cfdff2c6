"""A PyTorch Lightning callback that attaches a :class:`~gandiag.monitor.Monitor`.

GAN modules use manual optimisation, so the callback cannot see losses by itself:
``training_step`` returns the signals as a dict and the callback hands them to
``mon.step``::

    class GAN(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.generator, self.discriminator = G, D

        def training_step(self, batch, batch_idx):
            ...  # D and G updates with self.manual_backward and opt.step()
            return {"losses": {"G": loss_g, "D": loss_d}, "d_real": out_real,
                    "d_fake": out_fake, "real": x, "fake": fake}

    trainer = L.Trainer(callbacks=[GandiagCallback("runs/gan", latent_dim=64)])

The step number is the callback's own count of training batches, saved in
Lightning checkpoints together with the detectors' state. Needs the optional extra
``pip install gandiag[lightning]``.

Families with several networks of a role name them all (``generator=("G_AB", "G_BA")``,
each watched under its attribute name; an ``nn.ModuleDict`` attribute counts as its
entries). A phased model returns ``"phase": ("res16", 0.4)`` (or just the name) and a
family's own signals as ``"scalars": {"style/w_std": ..., "translation/G_AB/input_corr":
...}``; the callback declares the phase before the step and logs the scalars with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - exercised only without lightning
    try:
        from pytorch_lightning import Callback  # type: ignore[no-redef,assignment,unused-ignore]
    except ImportError as exc:
        raise ImportError(
            "gandiag.monitor.lightning needs PyTorch Lightning; install it with "
            "`pip install gandiag[lightning]`"
        ) from exc

from gandiag.monitor.monitor import Monitor
from gandiag.store import STATUS_CRASHED

#: keys of a training_step's returned dict that are passed on to ``Monitor.step``
STEP_KEYS = ("d_real", "d_fake", "real", "fake", "d_val", "mu", "logvar", "inputs", "recon")


class GandiagCallback(Callback):
    """Monitor a LightningModule's networks, read by attribute name.

    ``generator``/``discriminator``/``model`` name attributes of the LightningModule
    (a VAE sets ``model="vae"`` and ``generator=None, discriminator=None``); the other
    keyword arguments go to :class:`~gandiag.monitor.Monitor` unchanged. With
    ``forward_to_logger=True`` (the default) everything the monitor records also goes to
    each of ``trainer.loggers`` through :class:`~gandiag.sinks.LoggerSink`.

    Under ``strategy="ddp"`` a GAN needs ``DDPStrategy(find_unused_parameters=True)``
    (each optimiser step leaves the other network's parameters without gradients); the
    monitor reduces its statistics across ranks and only rank 0 writes the store and
    the sinks. See ``docs/monitor.md``.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        generator: str | Sequence[str] | None = "generator",
        discriminator: str | Sequence[str] | None = "discriminator",
        model: str | None = None,
        forward_to_logger: bool = True,
        **monitor_kwargs: Any,
    ) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.attrs = {"generator": generator, "discriminator": discriminator, "model": model}
        self.monitor_kwargs = monitor_kwargs
        self.forward_to_logger = forward_to_logger
        self.monitor: Monitor | None = None
        self.step = 0
        self.alerts: list[Any] = []
        self._pending_state: Mapping[str, Any] | None = None

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage != "fit" or self.monitor is not None:
            return
        nets: dict[str, Any] = {}
        for arg, attrs in self.attrs.items():
            if attrs is None:
                continue
            names = [attrs] if isinstance(attrs, str) else list(attrs)
            for attr in names:
                if not hasattr(pl_module, attr):
                    raise ValueError(
                        f"GandiagCallback: the LightningModule has no attribute {attr!r} for "
                        f"{arg}=; pass {arg}='<attribute name>', several names, or None"
                    )
            # one attribute: the network (or a ModuleDict of several); several: by name
            one = len(names) == 1
            nets[arg] = (
                getattr(pl_module, names[0]) if one else {a: getattr(pl_module, a) for a in names}
            )
        kwargs = dict(self.monitor_kwargs)
        if self.forward_to_logger:
            from gandiag.sinks.lightning import LoggerSink

            loggers = list(getattr(trainer, "loggers", None) or [])
            kwargs["sinks"] = [*kwargs.get("sinks", ()), *(LoggerSink(lg) for lg in loggers)]
        self.monitor = Monitor(self.run_dir, **nets, **kwargs)
        if self._pending_state is not None:
            self._apply_state(self._pending_state)
            self._pending_state = None

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.monitor is None:
            return
        if not isinstance(outputs, Mapping) or "losses" not in outputs:
            raise ValueError(
                "GandiagCallback: training_step must return a dict with 'losses' (a dict of loss "
                f"terms) and the signals {', '.join(STEP_KEYS[:4])} (GAN) or mu, logvar, inputs, "
                "recon (VAE)"
            )
        kwargs = {k: outputs[k] for k in STEP_KEYS if outputs.get(k) is not None}
        phase = outputs.get("phase")
        if phase is not None:  # "res16" or ("res16", alpha)
            name, alpha = (phase, None) if isinstance(phase, str) else phase
            self.monitor.set_phase(name, alpha=None if alpha is None else float(alpha))
        self.alerts += self.monitor.step(self.step, outputs["losses"], **kwargs)
        if outputs.get("scalars"):
            self.monitor.log_scalars(self.step, outputs["scalars"])
        self.step += 1

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.alerts += self.monitor.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.monitor is not None:
            self.monitor.close(STATUS_CRASHED)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": self.step}
        if self.monitor is not None and not self.monitor.closed:
            state["monitor"] = self.monitor.state_dict()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if self.monitor is None:
            self._pending_state = state_dict
        else:
            self._apply_state(state_dict)

    def _apply_state(self, state: Mapping[str, Any]) -> None:
        self.step = int(state.get("step", 0))
        if "monitor" in state and self.monitor is not None:
            self.monitor.load_state_dict(state["monitor"])
