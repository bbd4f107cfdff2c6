"""Checkpoints as plain state dicts, loaded with ``torch.load(weights_only=True)``.

One file, ``<run_dir>/checkpoint.pt``, replaced atomically at each save, holds the
networks, optimisers, EMA, data-order and RNG states (the loop's generator and the
global torch RNG), the monitor's detector states
and the step, plus the model's name and options so a resume with another model is
refused before anything is written.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from gandiag._atomic import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = 1


def global_rng_state() -> dict[str, Any]:
    """The global torch RNG states (the CPU's, and each CUDA device's where present).

    Layers that draw from them (pix2pix's dropout, LAPGAN's, StyleGAN-lite's per-layer
    noise) replay from a checkpoint only with them, so a checkpoint carries them beside
    the loop's own generator."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any] | None) -> None:
    """Restore :func:`global_rng_state` (None: a checkpoint written before it was saved)."""
    if state is None:
        return
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_NAME


def save_checkpoint(run_dir: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (tensors and plain Python values only) atomically."""
    return atomic_write(
        checkpoint_path(run_dir), lambda f: torch.save({"format": FORMAT, **payload}, f)
    )


def load_checkpoint(
    run_dir: str | Path, model_name: str, model_options: dict[str, Any]
) -> dict[str, Any]:
    """The checkpoint in ``run_dir``, checked to belong to ``model_name`` with ``model_options``."""
    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise FileNotFoundError(
            f"cannot resume: {path} does not exist (the run never saved a checkpoint); start a "
            "new run in another directory, or drop --resume"
        )
    return load_checkpoint_file(path, model_name, model_options)


def load_checkpoint_file(
    path: Path, model_name: str, model_options: dict[str, Any], *, fork: bool = False
) -> dict[str, Any]:
    """A checkpoint file (the run's own or one of its ring), checked against the model.

    ``fork``: a new run starts from this state (``train(start_from=...)``) and may change
    model options that leave the parameters as they are (StackGAN's conditioning
    augmentation, its stage-II detail scale); whether they are is up to the strict
    ``load_state_dict`` of the networks (:func:`options_changed` names the difference).
    """
    if not path.is_file():
        raise FileNotFoundError(f"cannot start from {path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run whatever code
        # the file carries: not relayed, and the chain is cut so no traceback shows it.
        raise ValueError(
            f"cannot resume: {path} holds Python objects other than tensors and plain values, "
            "so gandiag refuses to load it (unpickling such objects can run arbitrary code). "
            "gandiag never writes such checkpoints: this file was replaced or modified. Start "
            "a new run in another directory; nothing was changed."
        ) from None
    except Exception as exc:
        raise ValueError(
            f"cannot resume: {path} is not a readable gandiag checkpoint "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); it may "
            "be truncated. Start a new run in another directory; nothing was changed."
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format", FORMAT) != FORMAT or "model" not in ckpt:
        raise ValueError(
            f"cannot resume: {path} is not a gandiag checkpoint (format "
            f"{FORMAT}); nothing was changed"
        )
    saved_name, saved_opts = ckpt["model"]["name"], ckpt["model"]["options"]
    diff = options_changed(saved_opts, model_options)
    if saved_name != model_name or (diff and not fork):
        raise ValueError(
            f"cannot resume: the checkpoint {path} is from model {saved_name!r}"
            + (f" with different options {diff} (saved, now)" if saved_name == model_name else "")
            + f" but the config asks for {model_name!r}; use the run's original config or a new "
            "output directory. Nothing was changed."
        )
    return ckpt


def options_changed(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The model options that differ: name -> (saved, now)."""
    return {
        k: (saved.get(k), now.get(k))
        for k in sorted(set(saved) | set(now))
        if _plain(saved.get(k)) != _plain(now.get(k))
    }


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal (TOML has only lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def restore_fork(
    restore: Any, ckpt: dict[str, Any], options: dict[str, Any], start_from: Any
) -> None:
    """``restore(ckpt)``; when the networks do not take the checkpoint's parameters (a
    fork whose model options change the networks), say which options and what to do."""
    try:
        restore(ckpt)
    except (RuntimeError, KeyError, ValueError) as exc:
        diff = options_changed(ckpt["model"]["options"], options)
        if start_from is None or not diff:
            raise
        raise ValueError(
            f"cannot start from {start_from}: its networks do not fit this config's, whose "
            f"model options differ {diff} (saved, now); a change of the networks trains "
            "from the initialisation (start_from=None)"
        ) from exc
