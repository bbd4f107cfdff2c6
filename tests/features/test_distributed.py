"""Feature extraction sharded over two gloo ranks on the CPU gives the unsharded result."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gandiag.features import get_extractor


def _worker(rank, init, data, out):
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        feats = get_extractor("identity")(torch.from_numpy(data))
        if rank == 1:
            np.save(out, feats.numpy())
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_gather_in_order(tmp_path):
    data = np.random.default_rng(0).normal(size=(11, 3)).astype(np.float32)  # uneven shards
    out = tmp_path / "feats.npy"
    mp.spawn(_worker, args=(f"file://{tmp_path / 'init'}", data, str(out)), nprocs=2, join=True)
    np.testing.assert_array_equal(np.load(out), data)
