"""Under torch.distributed, statistics are reduced across ranks and only rank 0 writes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

STEPS = 4
BATCH = 6


def _worker(rank: int, world: int, tmp: str) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world
    )
    import gandiag
    from gandiag.monitor import Cadence

    torch.manual_seed(0)  # same initial weights on every rank, as DDP requires
    G = nn.parallel.DistributedDataParallel(nn.Linear(3, 2))
    D = nn.parallel.DistributedDataParallel(nn.Linear(2, 1))
    mon = gandiag.Monitor(
        Path(tmp) / "run",
        generator=G,
        discriminator=D,
        latent_dim=3,
        cadence=Cadence(layers=2, histograms=1, samples=1, grid=2, flush=3),
        detectors=None,
        loss="wasserstein",
    )
    optD = torch.optim.SGD(D.parameters(), lr=0.01)
    optG = torch.optim.SGD(G.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(100 + rank)  # each rank its own data
    mine = []
    for step in range(STEPS):
        real = torch.randn(BATCH, 2, generator=g) + rank
        fake = G(torch.randn(BATCH, 3, generator=g))
        optD.zero_grad()
        out_real, out_fake = D(real).view(-1), D(fake.detach()).view(-1)
        loss_d = out_fake.mean() - out_real.mean()
        loss_d.backward()
        optD.step()
        optG.zero_grad()
        loss_g = -D(fake).mean()
        loss_g.backward()
        optG.step()
        mon.step(
            step,
            losses={"D": loss_d, "G": loss_g},
            d_real=out_real,
            d_fake=out_fake,
            real=real,
            fake=fake,
        )
        mine.append(
            {
                "loss/D": loss_d.item(),
                "real_sum": out_real.sum().item(),
                "lo": min(out_real.min().item(), out_fake.min().item()),
                "hi": max(out_real.max().item(), out_fake.max().item()),
            }
        )
    mon.close()
    Path(tmp, f"rank{rank}.json").write_text(json.dumps({"pid": os.getpid(), "steps": mine}))
    dist.destroy_process_group()
    # Everything is written: skip interpreter finalisation, where a process that ran
    # DDP over gloo intermittently aborts ("terminate called without an active
    # exception", SIGABRT) even after destroy_process_group (pytorch/pytorch#179291).
    os._exit(0)


@pytest.mark.slow
def test_two_gloo_ranks_reduce_and_only_rank_zero_writes(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
    from gandiag.store import RunReader

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    reader = RunReader(tmp_path / "run")
    assert reader.meta("pid") == ranks[0]["pid"]
    records = list(reader.read_records())
    assert [r.step for r in records] == list(range(STEPS))
    for rec in records:
        a, b = (ranks[r]["steps"][rec.step] for r in range(2))
        assert rec.scalars["loss/D"] == pytest.approx((a["loss/D"] + b["loss/D"]) / 2, rel=1e-5)
        mean_real = (a["real_sum"] + b["real_sum"]) / (2 * BATCH)
        assert rec.scalars["d/real/raw_mean"] == pytest.approx(mean_real, rel=1e-5, abs=1e-6)
        h = rec.histograms["d/real/prob"]
        assert h.total == 2 * BATCH  # counts from both ranks
        assert h.lo == pytest.approx(min(a["lo"], b["lo"]), abs=1e-6)
        assert h.hi == pytest.approx(max(a["hi"], b["hi"]), abs=1e-6)
        assert rec.histograms["d/fake/prob"].total == 2 * BATCH
        assert rec.scalars["grad/D/norm"] > 0 and rec.scalars["grad/G/norm"] > 0
        assert "samples/latent_sensitivity" in rec.scalars
    assert [g.step for g in reader.sample_grids()] == [0, 2]
