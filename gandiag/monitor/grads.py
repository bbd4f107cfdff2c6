"""Gradient, weight and update probes on the parameters of each watched network.

A gradient is measured where it is born: a ``post_accumulate_grad`` hook on every
parameter takes the norm (and, when it is not finite, the count of non-finite
entries) of ``param.grad`` each time a backward pass accumulates into it, so
gradient clipping, GradScaler unscaling-with-skip or a NaN sanitiser that runs later
cannot hide anything. Under mixed precision those gradients carry the loss scale; given
the ``GradScaler``, a commit divides the norms by the scale the backward pass used (the
scaler updates its scale only after the optimizer step). The value an optimizer actually
used is the one standing when its ``step()`` begins: a global optimizer pre-step hook
*commits* the latest norms of the parameters that optimizer owns. This matters in GAN
loops, where the generator's backward pass also accumulates into the discriminator's
``.grad`` after the discriminator stepped; those gradients are never committed. Loops that update
parameters by hand (no ``torch.optim`` optimizer) get the latest norms at
``mon.step`` instead.

The hooks only note which parameters received a gradient; the norms are taken at the end
of the backward pass (a callback queued on the autograd engine by the first hook of the
pass, before any code after ``backward()`` can clip), all at once with ``torch._foreach_norm``
per device and dtype. One hook per parameter used to launch a norm (and, on an
accelerator, three operations counting non-finite entries) each: on a small model's GPU
step, launch-bound, those per-parameter operations were most of the Monitor's cost. On an
accelerator the non-finite entries are counted in the same batched way, without a host
read (the ord-0 norm of ``g - g``: zero where ``g`` is finite, NaN where it is not); on the
CPU, where a look at a value is free, they are counted only for a parameter whose norm is
not finite. An optimizer stepped from inside the backward pass (a hook) first takes the
norms still pending.

Nothing here modifies a gradient or a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from gandiag import signals
from gandiag.types import Histogram


class NetProbe:
    """Hooks on one network's parameters; produces this step's gradient/weight statistics."""

    def __init__(
        self,
        name: str,
        module: nn.Module,
        scale: Callable[[], torch.Tensor | float] | None = None,
        *,
        count_on_device: bool | None = None,
    ) -> None:
        self.name = name
        self._scale = scale
        inner = getattr(module, "module", module)  # DDP / DataParallel wrap the real module
        params: list[nn.Parameter] = []
        layers: list[str] = []
        seen: set[int] = set()
        for mod_name, mod in inner.named_modules():
            for p in mod.parameters(recurse=False):
                if id(p) in seen or not p.requires_grad:
                    continue
                seen.add(id(p))
                params.append(p)
                layers.append(mod_name or "root")
        if not params:
            raise ValueError(
                f"network {name!r} has no trainable parameters; pass the module being trained"
            )
        self.params = params
        # Layer of each parameter, and the parameter indices of each layer in order.
        self.layer_names = list(dict.fromkeys(layers))
        layer_pos = {n: i for i, n in enumerate(self.layer_names)}
        self._param_layer = np.array([layer_pos[n] for n in layers])
        self._index = {id(p): i for i, p in enumerate(params)}
        self._latest: list[torch.Tensor | None] = [None] * len(params)
        self._latest_bad: list[torch.Tensor | None] = [None] * len(params)
        # committed per-parameter norms and non-finite counts, one [2n] vector per step
        self._norms: list[torch.Tensor] = []
        self._zero: torch.Tensor | None = None
        self._device = params[0].device
        # count non-finite entries on the device for every parameter (no host read), or
        # only where a norm read on the host is not finite (default: on the CPU)
        self._count_on_device = (
            self._device.type != "cpu" if count_on_device is None else count_on_device
        )
        self._pending: list[int] = []  # parameters given a gradient in this backward pass
        self._queued_for: int | None = None  # the backward pass a measurement is queued in
        self._handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]
        # Update tracking: flattened weights at the two steps before a layer-cadence step.
        self._snap: dict[int, torch.Tensor] = {}
        self._prev_update: tuple[int, torch.Tensor] | None = None

    # -- hooks ------------------------------------------------------------------------------
    def _hook(self, p: torch.Tensor) -> None:
        if p.grad is None:
            return
        self._pending.append(self._index[id(p)])
        # once per backward pass (a pass that raised leaves a stale id, not a stuck flag)
        task = _graph_task_id() if _graph_task_id is not None else None
        if task is None or task != self._queued_for:
            self._queued_for = task
            try:
                torch.autograd.Variable._execution_engine.queue_callback(self._measure)
            except RuntimeError:  # not inside an engine pass: measure now
                self._measure()

    def _measure(self) -> None:
        """The norms (and non-finite counts) of the gradients accumulated since the last
        call, batched per device and dtype."""
        todo = [i for i in dict.fromkeys(self._pending) if self.params[i].grad is not None]
        self._pending = []
        if not todo:
            return
        with torch.no_grad():
            groups: dict[tuple, list[int]] = {}
            for i in todo:
                g = self.params[i].grad
                assert g is not None
                key = ("sparse",) if g.is_sparse else (g.device, g.dtype)
                groups.setdefault(key, []).append(i)
            for key, idx in groups.items():
                grads = [cast(torch.Tensor, self.params[i].grad) for i in idx]  # not None
                norms: list[torch.Tensor]
                bads: list[torch.Tensor | None]
                if key == ("sparse",):  # nn.Embedding(sparse=True): its stored values
                    vals = [g.coalesce().values() for g in grads]
                    norms = [_norm(v) for v in vals]
                    bads = [_count_nonfinite(v).float() for v in vals]
                else:
                    norms, bads = self._batched(grads)
                for k, i in enumerate(idx):
                    self._latest[i], self._latest_bad[i] = norms[k], bads[k]

    def _batched(
        self, grads: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        norms = _foreach_norm(grads, 2)
        if self._count_on_device:
            bads: list[torch.Tensor | None] = []
            for chunk in _chunks(grads, _COUNT_CHUNK):
                # g - g is 0 where g is finite and NaN where it is not; ord 0 counts nonzeros
                bads += _foreach_norm(list(torch._foreach_sub(chunk, chunk)), 0)
            return norms, bads
        finite = torch.isfinite(torch.stack(norms))
        if bool(finite.all()):
            return norms, [None] * len(grads)
        return norms, [
            None if ok else _count_nonfinite(g).float() for g, ok in zip(grads, finite.tolist())
        ]

    def owns_any(self, optimizer: torch.optim.Optimizer) -> bool:
        return any(id(p) in self._index for g in optimizer.param_groups for p in g["params"])

    def commit(self) -> None:
        """Take the latest accumulated norms as what an optimizer step is about to use."""
        if self._pending:  # an optimizer stepped inside the backward pass
            self._measure()
        if all(t is None for t in self._latest):
            return
        if self._zero is None:
            self._zero = torch.zeros((), device=self._device)
        zero, n = self._zero, len(self.params)
        # the norms, then the non-finite counts: one vector of 2n per optimizer step
        both = torch.stack(
            [zero if t is None else t for t in self._latest]
            + [zero if t is None else t for t in self._latest_bad]
        )
        if self._scale is not None:
            both[:n] /= self._scale()
        self._norms.append(both)
        self._latest = [None] * n
        self._latest_bad = [None] * n

    # -- per step ---------------------------------------------------------------------------
    def take(self, step: int, layers_due: bool) -> tuple[torch.Tensor, Callable] | None:
        """This step's gradient sums and their finaliser, or ``None`` if no gradient arrived."""
        if not self._norms:
            self.commit()  # no optimizer stepped: a hand-written update loop
        if not self._norms:
            return None
        if len(self._norms) == 1:
            both = self._norms[0]
        else:  # several optimizer steps per mon.step (n_critic > 1): mean norm, summed counts
            stacked, n = torch.stack(self._norms), len(self.params)
            both = torch.cat([stacked[:, :n].mean(0), stacked[:, n:].sum(0)])
        self._norms = []
        return both, self._grad_finaliser(layers_due)  # the buffer widens it at the flush

    def _grad_finaliser(self, layers_due: bool) -> Callable:
        name, layer_names, param_layer = self.name, self.layer_names, self._param_layer
        n = len(self.params)

        def finalise(v: np.ndarray, world: int) -> dict[str, float | Histogram]:
            norms, bads = v[:n] / world, v[n:]
            out: dict[str, float | Histogram] = {
                signals.grad_norm(name): float(np.sqrt(np.sum(norms**2))),
                signals.grad_nonfinite(name): float(np.sum(bads)),
            }
            if layers_due:
                sq = np.zeros(len(layer_names))
                bad = np.zeros(len(layer_names))
                np.add.at(sq, param_layer, norms**2)
                np.add.at(bad, param_layer, bads)
                for j, layer in enumerate(layer_names):
                    out[signals.grad_layer_norm(name, layer)] = float(np.sqrt(sq[j]))
                    out[signals.grad_layer_nonfinite(name, layer)] = float(bad[j])
            return out

        return finalise

    def weights(
        self, step: int, layers_due: bool, next_due: Callable[[int], bool]
    ) -> list[tuple[torch.Tensor, Callable]]:
        """Weight norm, update ratio and update cosine at layer-cadence steps.

        ``next_due(s)`` says whether step ``s`` is a layer-cadence step, so the two
        snapshots the update statistics need are taken at the two steps before it.
        """
        out: list[tuple[torch.Tensor, Callable]] = []
        if not (layers_due or next_due(step + 1) or next_due(step + 2)):
            self._snap.clear()
            self._prev_update = None
            return out
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).to(self._device) for p in self.params])
        name = self.name
        if layers_due:
            wnorm = torch.linalg.vector_norm(flat.double())
            out.append(
                (wnorm.reshape(1), lambda v, w: {signals.weight_norm(name): float(v[0]) / w})
            )
        prev = self._snap.get(step - 1)
        if prev is not None:
            update = flat - prev
            if layers_due:
                stats = [
                    torch.linalg.vector_norm(update.double()),
                    torch.linalg.vector_norm(prev.double()),
                ]
                has_cos = self._prev_update is not None and self._prev_update[0] == step - 1
                if has_cos:
                    u1 = self._prev_update[1].double()  # type: ignore[index]
                    stats += [torch.dot(u1, update.double()), torch.linalg.vector_norm(u1)]
                out.append((torch.stack(stats), _update_finaliser(name, has_cos)))
            self._prev_update = (step, update)
        self._snap = {step: flat} if (next_due(step + 1) or next_due(step + 2)) else {}
        if not next_due(step + 1):
            self._prev_update = None
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def _update_finaliser(name: str, has_cos: bool) -> Callable:
    def finalise(v: np.ndarray, world: int) -> dict[str, float]:
        v = v / world
        out = {signals.update_ratio(name): _ratio(v[0], v[1])}
        if has_cos and v[0] > 0 and v[3] > 0:  # a network left unchanged has no direction
            out[signals.update_cosine(name)] = _ratio(v[2], v[0] * v[3])
        return out

    return finalise


def _ratio(a: float, b: float) -> float:
    if b == 0 or not math.isfinite(b):
        return math.nan
    return float(a / b)


def loss_scale(scaler: Any) -> Callable[[], torch.Tensor | float]:
    """The loss scale a ``torch.amp.GradScaler`` applied in the current backward pass."""
    if not callable(getattr(scaler, "get_scale", None)):
        raise TypeError(
            f"grad_scaler must be a torch.amp.GradScaler (or None), got {type(scaler).__name__}"
        )

    def scale() -> torch.Tensor | float:
        if not scaler.is_enabled():
            return 1.0
        # The scale as a device tensor where the scaler offers it: no host sync per step.
        fast = getattr(scaler, "_get_scale_async", None)
        s = fast() if fast is not None else None
        return s.float() if s is not None else scaler.get_scale()

    return scale


#: the id of the autograd engine's current backward pass (torch >= 2.1 has it; without it
#: every hook queues the measurement, which then runs once with work and the rest empty)
_graph_task_id = getattr(torch._C, "_current_graph_task_id", None)


def _count_nonfinite(g: torch.Tensor) -> torch.Tensor:
    return torch.count_nonzero(~torch.isfinite(g.detach()))


def _norm(g: torch.Tensor, ord: float = 2) -> torch.Tensor:
    return torch.linalg.vector_norm(g.detach(), ord, dtype=torch.float32)


#: the gradient entries whose non-finite count one batched pass takes (``g - g`` is a
#: copy: at most 64 MB in float32 at a time, or one parameter's gradient where larger)
_COUNT_CHUNK = 1 << 24


def _chunks(tensors: list[torch.Tensor], limit: int) -> list[list[torch.Tensor]]:
    out: list[list[torch.Tensor]] = [[]]
    size = 0
    for t in tensors:
        if out[-1] and size + t.numel() > limit:
            out.append([])
            size = 0
        out[-1].append(t)
        size += t.numel()
    return out


def _foreach_norm(tensors: list[torch.Tensor], ord: float) -> list[torch.Tensor]:
    """``vector_norm(t, ord, dtype=float32)`` of each tensor, in one batched call where this
    torch offers it (``torch._foreach_norm`` with a dtype, torch >= 2.3)."""
    try:
        return list(torch._foreach_norm(tensors, ord, dtype=torch.float32))
    except (TypeError, RuntimeError, AttributeError):
        return [_norm(t, ord) for t in tensors]


class GradProbes:
    """All watched networks' probes, plus the global optimizer hook that commits them."""

    def __init__(
        self, nets: dict[str, nn.Module], scale: Callable[[], torch.Tensor | float] | None = None
    ) -> None:
        self.probes = [NetProbe(name, module, scale) for name, module in nets.items()]
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self._opt_handle: RemovableHandle | None = register_optimizer_step_pre_hook(
            self._on_optimizer_step
        )

    def _on_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for probe in self.probes:
            if probe.owns_any(optimizer):
                probe.commit()

    def remove(self) -> None:
        for probe in self.probes:
            probe.remove()
        if self._opt_handle is not None:
            self._opt_handle.remove()
            self._opt_handle = None
