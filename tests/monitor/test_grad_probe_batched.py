"""Gradient norms and non-finite counts are taken once per backward pass, batched.

Both ways of counting non-finite entries are checked on the CPU: the host-read one the CPU
uses and the on-device one an accelerator uses (``count_on_device``), which must give the
same numbers without reading anything back, in a fixed number of operations per backward
pass whatever the number of parameters.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest
import torch
from host_reads import counted_reads
from torch import nn

from gandiag.monitor.grads import NetProbe, _chunks

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from monitor_ops import OpCounter

INF, NAN = float("inf"), float("nan")


class Net(nn.Module):
    def __init__(self, n: int = 12) -> None:
        super().__init__()
        self.ps = nn.ParameterList(nn.Parameter(torch.ones(3, 4)) for _ in range(n))


def backward_with_grads(net: Net, grads: list[torch.Tensor]) -> None:
    """One backward pass that leaves exactly ``grads`` in the parameters' ``.grad``."""
    sum((p * g).sum() for p, g in zip(net.ps, grads)).backward()


def grads_with_faults(n: int) -> list[torch.Tensor]:
    g = [torch.randn(3, 4, generator=torch.Generator().manual_seed(i)) for i in range(n)]
    g[2][0, 1] = INF
    g[5][1, :] = NAN
    g[5][2, 3] = -INF
    return g


def committed(probe: NetProbe) -> tuple[torch.Tensor, torch.Tensor]:
    probe.commit()
    sums, _ = probe.take(0, layers_due=False)
    sums = sums.double()  # as the buffer widens it at the flush
    n = len(probe.params)
    return sums[:n], sums[n:]


@pytest.mark.parametrize("count_on_device", [False, True])
def test_norms_and_counts_equal_a_per_parameter_computation(count_on_device):
    net = Net()
    probe = NetProbe("D", net, count_on_device=count_on_device)
    grads = grads_with_faults(len(net.ps))
    backward_with_grads(net, grads)
    norms, bads = committed(probe)
    want_norms = torch.stack([torch.linalg.vector_norm(g) for g in grads]).double()
    want_bads = torch.stack([(~torch.isfinite(g)).sum() for g in grads]).double()
    torch.testing.assert_close(norms, want_norms, equal_nan=True, rtol=1e-6, atol=0)
    assert torch.equal(bads, want_bads)
    assert bads.tolist()[2] == 1 and bads.tolist()[5] == 5 and bads.sum() == 6


@pytest.mark.parametrize("count_on_device", [False, True])
def test_the_norm_is_taken_before_code_after_backward_clips(count_on_device):
    net = Net(4)
    probe = NetProbe("D", net, count_on_device=count_on_device)
    grads = [torch.full((3, 4), 10.0) for _ in range(4)]
    backward_with_grads(net, grads)
    nn.utils.clip_grad_norm_(net.parameters(), 1e-3)
    norms, bads = committed(probe)
    assert norms.tolist() == pytest.approx([float(torch.linalg.vector_norm(grads[0]))] * 4)
    assert bads.sum() == 0


def test_an_optimizer_stepped_inside_backward_takes_the_pending_norms():
    net = Net(4)
    probe = NetProbe("D", net, count_on_device=True)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    arrived = []

    def step_in_backward(p: torch.Tensor) -> None:  # registered after the probe's hook
        arrived.append(p)
        if len(arrived) == len(net.ps):  # the last gradient of the pass is in
            probe.commit()  # what the optimizer pre-step hook calls (GradProbes)
            opt.step()
            opt.zero_grad(set_to_none=True)

    for p in net.ps:
        p.register_post_accumulate_grad_hook(step_in_backward)
    backward_with_grads(net, [torch.full((3, 4), float(i + 1)) for i in range(4)])
    sums, _ = probe.take(0, layers_due=False)
    assert sums[:4].tolist() == pytest.approx([2.0 * (i + 1) * 3**0.5 for i in range(4)])


@pytest.mark.parametrize("n", [4, 40])
def test_on_device_counting_costs_the_same_few_operations_for_any_number_of_parameters(
    n, monkeypatch
):
    net = Net(n)
    grads = [torch.randn(3, 4) for _ in range(n)]
    bare = OpCounter()
    with bare:
        backward_with_grads(net, grads)
    net.zero_grad(set_to_none=True)
    probe = NetProbe("D", net, count_on_device=True)
    watched = OpCounter()
    with counted_reads(monkeypatch) as reads, watched:
        backward_with_grads(net, grads)
    extra = watched.seen - bare.seen
    assert reads == [], reads  # nothing read back
    assert extra == collections.Counter({"_foreach_norm": 2, "_foreach_sub": 1}), extra
    probe.remove()


def test_count_chunks_bound_the_copy():
    ts = [torch.zeros(n) for n in (5, 5, 3, 9, 1)]
    sizes = [[t.numel() for t in c] for c in _chunks(ts, 10)]
    assert sizes == [[5, 5], [3], [9, 1]]
    assert [[t.numel() for t in c] for c in _chunks([torch.zeros(20)], 10)] == [[20]]


def test_a_backward_pass_that_raised_does_not_stop_later_measurements():
    net = Net(3)
    probe = NetProbe("D", net, count_on_device=True)

    def fail(_grad):
        raise RuntimeError("a hook fails half way through the pass")

    x = torch.ones(3, 4, requires_grad=True)
    h = x * x  # reached after the parameters' gradients (created first, run last)
    h.register_hook(fail)
    loss = h.sum() + sum((p * 2.0).sum() for p in net.ps)
    with pytest.raises(RuntimeError, match="half way"):
        loss.backward()
    assert probe._pending  # some parameters got their gradient before the pass failed
    net.zero_grad(set_to_none=True)
    grads = [torch.full((3, 4), 5.0) for _ in range(3)]
    backward_with_grads(net, grads)
    nn.utils.clip_grad_norm_(net.parameters(), 1e-3)  # after the pass: must not be seen
    norms, _ = committed(probe)
    assert norms.tolist() == pytest.approx([float(torch.linalg.vector_norm(grads[0]))] * 3)


@pytest.mark.parametrize("count_on_device", [False, True])
def test_sparse_gradients_are_measured_from_their_values(count_on_device):
    emb = nn.Embedding(10, 3, sparse=True)
    probe = NetProbe("E", emb, count_on_device=count_on_device)
    w = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 4.0]])
    (emb(torch.tensor([2, 7])) * w).sum().backward()
    assert emb.weight.grad.is_sparse
    norms, bads = committed(probe)
    assert norms.tolist() == pytest.approx([5.0]) and bads.tolist() == [0.0]
