"""Detectors find networks by role, so they work whatever the networks are called."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from detector_streams import gan_stream

import gandiag
from gandiag.detectors import DetectorSuite, build_detectors
from gandiag.roles import DEFAULT_ROLES, Role, expand_pattern, networks_with_role, parse_role
from gandiag.store import RunReader
from gandiag.types import StepRecord


def _renamed(records: list[StepRecord], names: dict[str, list[str]]) -> list[StepRecord]:
    """The stream with network ``G``'s signals split over ``names['G']`` (same total norm)."""
    out = []
    for rec in records:
        scalars = {}
        for key, value in rec.scalars.items():
            parts = key.split("/")
            if len(parts) >= 3 and parts[0] in ("grad", "weight", "update") and parts[1] in names:
                new = names[parts[1]]
                share = value / len(new) ** 0.5 if parts[-1] == "norm" else value
                for n in new:
                    scalars["/".join([parts[0], n, *parts[2:]])] = share
            else:
                scalars[key] = value
        out.append(dataclasses.replace(rec, scalars=scalars))
    return out


def _keys(alerts) -> list[str]:
    return [json.dumps(a.to_dict(), sort_keys=True) for a in alerts]


@pytest.mark.parametrize(
    "names",
    [{"G": ["netG"], "D": ["netD"]}, {"G": ["G_AB", "G_BA"], "D": ["D_A", "D_B"]}],
    ids=["netG", "cyclegan"],
)
def test_vanishing_gradients_fires_whatever_the_generator_is_called(names) -> None:
    base = gan_stream(steps=1000, saturate_at=300)
    expected = DetectorSuite(build_detectors(["vanishing_gradients"])).run(base)
    assert [a.severity.value for a in expected] == ["critical"]
    roles = {n: Role.GENERATOR for n in names["G"]} | {n: Role.DISCRIMINATOR for n in names["D"]}
    renamed = _renamed(base, names)
    got = DetectorSuite(build_detectors(["vanishing_gradients"]), roles).run(renamed)
    assert [(a.step, a.onset_step) for a in got] == [(a.step, a.onset_step) for a in expected]
    # Without the roles the generator is not found: the detector says it is inactive and
    # how to give the role, instead of failing silently.
    blind = DetectorSuite(
        build_detectors(
            ["vanishing_gradients"], {"vanishing_gradients": {"missing_grace_steps": 50}}
        )
    ).run(renamed)
    assert [a.severity.value for a in blind] == ["info"]
    assert "'generator'" in blind[0].diagnosis and "networks=" in blind[0].diagnosis


def test_roles_parse_and_expand() -> None:
    assert parse_role("Generator") is Role.GENERATOR
    with pytest.raises(ValueError, match=r"did you mean 'discriminator'.*valid roles"):
        parse_role("discrimnator")
    roles = {"G_AB": Role.GENERATOR, "G_BA": Role.GENERATOR, "D": Role.DISCRIMINATOR}
    assert networks_with_role(roles, "generator") == ["G_AB", "G_BA"]
    assert expand_pattern("grad/<discriminator>/norm", roles) == ["grad/D/norm"]
    assert expand_pattern("loss/G", roles) == ["loss/G"]
    assert networks_with_role(DEFAULT_ROLES, Role.AUTOENCODER) == ["VAE"]


class _G(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)


def test_monitor_records_roles_and_replay_binds_them(tmp_path) -> None:
    torch.manual_seed(0)
    G, D, M = _G(), torch.nn.Linear(2, 1), torch.nn.Linear(4, 4)
    mon = gandiag.Monitor(
        tmp_path / "run",
        networks={"netG": (G, "generator"), "netD": (D, Role.DISCRIMINATOR)},
        model=None,
        roles=None,
        latent_dim=4,
        quiet=True,
        detectors=build_detectors(["vanishing_gradients"]),
    )
    assert [d.roles for d in mon.detectors] == [
        {"netG": Role.GENERATOR, "netD": Role.DISCRIMINATOR}
    ]
    mon.close()
    assert RunReader(tmp_path / "run").meta("networks") == {
        "netG": "generator",
        "netD": "discriminator",
    }
    mon = gandiag.Monitor(
        tmp_path / "run2",
        generator=G,
        discriminator=D,
        networks={"map": M},
        roles={"map": "mapping"},
        latent_dim=4,
        quiet=True,
    )
    mon.close()
    assert RunReader(tmp_path / "run2").meta("networks") == {
        "G": "generator",
        "D": "discriminator",
        "map": "mapping",
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"networks": {"netG": torch.nn.Linear(2, 2)}}, "has no role"),
        ({"networks": {"netG": (torch.nn.Linear(2, 2), "genrator")}}, "did you mean 'generator'"),
        ({"networks": {"netG": (torch.nn.Linear(2, 2), "generator")}}, "one 'discriminator'"),
        (
            {
                "generator": torch.nn.Linear(2, 2),
                "discriminator": torch.nn.Linear(2, 1),
                "roles": {"x": "mapping"},
            },
            "not in networks=",
        ),
    ],
)
def test_bad_networks_name_the_fix(tmp_path, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        gandiag.Monitor(tmp_path / "run", **kwargs)
