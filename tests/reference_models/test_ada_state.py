"""The ADA controller's declared state: resume equals not stopping, older saves still load."""

from __future__ import annotations

import json

import pytest
import torch

from gandiag.reference_models.ada import AdaptiveAugment
from gandiag.state import StateError


def drive(ada: AdaptiveAugment, steps: range) -> list[tuple[float, float | None]]:
    """Feed D outputs that over-fit more and more; the (p, r_t) after every update."""
    out = []
    for t in steps:
        g = torch.Generator().manual_seed(t)
        ada.accumulate(torch.randn(16, generator=g) + 0.02 * t)
        ada.update()
        out.append((ada.p, ada.last_rt))
    return out


def test_resume_from_json_equals_uninterrupted() -> None:
    whole = drive(AdaptiveAugment(16, interval=3, speed_kimg=0.05), range(200))
    assert whole[-1][0] > 0.0  # p moved: the stream exercises the controller
    first = AdaptiveAugment(16, interval=3, speed_kimg=0.05)
    head = drive(first, range(101))  # stops between two adjustments
    second = AdaptiveAugment(16, interval=3, speed_kimg=0.05)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert head + drive(second, range(101, 200)) == whole


def test_flat_state_saved_before_the_declaration_loads() -> None:
    ada = AdaptiveAugment(16)
    ada.load_state_dict({"p": 0.25, "sign_sum": 3.0, "count": 5, "calls": 7, "last_rt": 0.5})
    assert (ada.p, ada.last_rt, ada.state.calls) == (0.25, 0.5, 7)


def test_a_bad_state_names_the_field() -> None:
    ada = AdaptiveAugment(16)
    with pytest.raises(StateError, match="ADA: saved state field 'count' must be int"):
        ada.load_state_dict({"version": 1, "state": {**ada.state_dict()["state"], "count": 1.5}})
    with pytest.raises(StateError, match=r"ADA: saved state has unknown field\(s\) rt"):
        ada.load_state_dict({"version": 1, "state": {**ada.state_dict()["state"], "rt": 0.5}})
