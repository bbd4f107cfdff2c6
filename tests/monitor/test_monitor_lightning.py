"""The Lightning callback (manual optimisation) feeds the Monitor; runs only with lightning installed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

L = pytest.importorskip("lightning.pytorch")

from gandiag import signals
from gandiag.monitor import Cadence
from gandiag.monitor.lightning import GandiagCallback
from gandiag.store import RunReader


class TinyGAN(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        self.discriminator = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        fake = self.generator(torch.randn(real.shape[0], 4))
        bce = nn.functional.binary_cross_entropy_with_logits
        out_real = self.discriminator(real).view(-1)
        out_fake = self.discriminator(fake.detach()).view(-1)
        loss_d = bce(out_real, torch.ones_like(out_real)) + bce(
            out_fake, torch.zeros_like(out_fake)
        )
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        out_g = self.discriminator(fake).view(-1)
        loss_g = bce(out_g, torch.ones_like(out_g))
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        return {
            "losses": {"G": loss_g, "D": loss_d},
            "d_real": out_real,
            "d_fake": out_fake,
            "real": real,
            "fake": fake,
        }

    def configure_optimizers(self):
        return (
            torch.optim.Adam(self.generator.parameters(), lr=1e-3),
            torch.optim.Adam(self.discriminator.parameters(), lr=1e-3),
        )

    def train_dataloader(self):
        data = torch.utils.data.TensorDataset(torch.randn(48, 2))
        return torch.utils.data.DataLoader(data, batch_size=8)


def test_callback_streams_every_batch(tmp_path):
    torch.manual_seed(0)
    cb = GandiagCallback(
        tmp_path / "run",
        latent_dim=4,
        detectors=None,
        cadence=Cadence(layers=2, samples=2, grid=3, flush=2),
    )
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[cb],
    )
    trainer.fit(TinyGAN())
    reader = RunReader(tmp_path / "run")
    assert reader.info().status == "finished"
    records = list(reader.read_records())
    assert [r.step for r in records] == list(range(12))  # 6 batches x 2 epochs
    assert all(signals.grad_norm("G") in r.scalars and "loss/D" in r.scalars for r in records)
    assert [g.step for g in reader.sample_grids()] == [0, 3, 6, 9]
    assert cb.state_dict()["step"] == 12


def test_callback_rejects_a_step_without_signals(tmp_path):
    class NoSignals(TinyGAN):
        def training_step(self, batch, batch_idx):
            super().training_step(batch, batch_idx)

    cb = GandiagCallback(tmp_path / "run", detectors=None)
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[cb],
    )
    with pytest.raises(ValueError, match="must return a dict with 'losses'"):
        trainer.fit(NoSignals())
    assert RunReader(tmp_path / "run").info().status == "crashed"


class _DestroyProcessGroupAtExit(L.Callback):
    """Each spawned rank destroys its gloo process group at exit (Lightning does so for
    NCCL only) and then skips interpreter finalisation.

    A process that ran DDP over gloo can abort in finalisation (``terminate called
    without an active exception``, SIGABRT; pytorch/pytorch#179291), even after
    destroy_process_group: an intermittent failure of rank 1 after a successful fit.
    By exit, the monitor is closed and rank 0's results are in Lightning's queue.
    """

    def setup(self, trainer, pl_module, stage):
        import atexit
        import multiprocessing
        import os

        import torch.distributed as dist

        if multiprocessing.parent_process() is None:
            return  # not a spawned rank: never cut the test process's own exit short
        self.fitted = False

        def destroy_and_exit():
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
            if self.fitted:  # a failed rank exits as it would, with its error code
                os._exit(0)

        atexit.register(destroy_and_exit)

    def on_fit_end(self, trainer, pl_module):
        self.fitted = True


def _trainer(cb, **kwargs):
    base = {
        "max_epochs": 2,
        "accelerator": "cpu",
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [cb],
    }
    return L.Trainer(**{**base, **kwargs})


def test_callback_forwards_to_the_trainers_logger(tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.manual_seed(0)
    cb = GandiagCallback(
        tmp_path / "run",
        latent_dim=4,
        detectors=None,
        cadence=Cadence(layers=2, samples=2, histograms=4, grid=3, flush=2),
    )
    logger = TensorBoardLogger(tmp_path / "tb", name="gan", version=0)
    _trainer(cb, devices=1, logger=logger).fit(TinyGAN())
    reader = RunReader(tmp_path / "run")
    stored = reader.read_scalars(["loss/D"])["loss/D"]
    acc = EventAccumulator(logger.log_dir, size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    events = acc.Scalars("loss/D")
    assert [e.step for e in events] == stored.steps.tolist()
    assert [e.value for e in events] == pytest.approx(stored.values.tolist(), rel=1e-6)
    assert signals.HIST_D_REAL in acc.Tags()["histograms"]  # through logger.experiment
    assert len(acc.Images("samples/samples")) == len(reader.sample_grids())


@pytest.mark.slow
def test_callback_on_two_cpu_ranks_with_ddp(tmp_path):
    """A GAN under DDP needs find_unused_parameters=True; rank 0 writes the reduced signals."""
    from lightning.pytorch.strategies import DDPStrategy

    cb = GandiagCallback(
        tmp_path / "run",
        latent_dim=4,
        detectors=None,
        forward_to_logger=False,
        cadence=Cadence(layers=2, samples=2, grid=3, flush=2),
    )
    strategy = DDPStrategy(
        start_method="spawn", find_unused_parameters=True, process_group_backend="gloo"
    )
    _trainer(
        cb,
        devices=2,
        num_nodes=1,
        strategy=strategy,
        logger=False,
        callbacks=[cb, _DestroyProcessGroupAtExit()],
    ).fit(TinyGAN())
    reader = RunReader(tmp_path / "run")
    assert reader.info().status == "finished"
    records = list(reader.read_records())
    # 48 samples / 2 ranks / batch 8 = 3 batches per rank per epoch, 2 epochs
    assert [r.step for r in records] == list(range(6))
    assert all(signals.grad_norm("G") in r.scalars for r in records)


class TinyCycle(L.LightningModule):
    """Two generators (A -> B and back) in a ModuleDict and two discriminators as
    attributes: the CycleGAN layout, on 2-D points."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.gens = nn.ModuleDict({"G_AB": nn.Linear(2, 2), "G_BA": nn.Linear(2, 2)})
        self.D_A = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.D_B = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        (a,) = batch
        b = a.flip(1) + 1.0
        opt_g, opt_d = self.optimizers()
        fake_b, fake_a = self.gens["G_AB"](a), self.gens["G_BA"](b)
        mse = nn.functional.mse_loss
        real_a, real_b = self.D_A(a).view(-1), self.D_B(b).view(-1)
        out_a, out_b = self.D_A(fake_a.detach()).view(-1), self.D_B(fake_b.detach()).view(-1)
        loss_d = mse(real_a, torch.ones_like(real_a)) + mse(out_a, torch.zeros_like(out_a))
        loss_d = loss_d + mse(real_b, torch.ones_like(real_b)) + mse(out_b, torch.zeros_like(out_b))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        cycle = (self.gens["G_BA"](fake_b) - a).abs().mean()
        loss_g = mse(self.D_B(fake_b).view(-1), torch.ones_like(out_b)) + 10 * cycle
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        return {
            "losses": {"G": loss_g, "D": loss_d},
            "d_real": {"D_A": real_a, "D_B": real_b},
            "d_fake": {"D_A": out_a, "D_B": out_b},
            "real": b,
            "fake": fake_b,
            "phase": ("warmup" if self.current_epoch == 0 else "main", 0.5),
            "scalars": {"translation/G_AB/cycle_l1": cycle.detach()},
        }

    def configure_optimizers(self):
        return (
            torch.optim.Adam(self.gens.parameters(), lr=1e-3),
            torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()], lr=1e-3),
        )

    train_dataloader = TinyGAN.train_dataloader  # the same 48 points


def test_callback_watches_several_networks_and_records_phases_and_family_signals(tmp_path):
    torch.manual_seed(0)
    cb = GandiagCallback(
        tmp_path / "run",
        generator="gens",  # a ModuleDict: each entry by its name
        discriminator=("D_A", "D_B"),  # several attributes: each by its attribute name
        loss="lsgan",
        detectors=None,
        cadence=Cadence(layers=1, samples=2, grid=0, flush=2),
    )
    _trainer(cb, devices=1, logger=False).fit(TinyCycle())
    reader = RunReader(tmp_path / "run")
    names = set(reader.scalar_names())
    for net in ("G_AB", "G_BA", "D_A", "D_B"):
        assert f"grad/{net}/norm" in names, net
    assert {"d/D_A/real/raw_mean", "d/D_B/fake/raw_mean"} <= names
    assert {signals.PHASE_INDEX, signals.PHASE_ALPHA, "translation/G_AB/cycle_l1"} <= names
    phases = reader.meta("phases")
    assert [p["name"] for p in phases] == ["warmup", "main"] and phases[1]["start_step"] == 6
    cycle = reader.read_scalars(["translation/G_AB/cycle_l1"])["translation/G_AB/cycle_l1"]
    assert len(cycle.steps) == 12  # every batch of the two epochs
