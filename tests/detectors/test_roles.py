"""Detectors find networks by role, so they work whatever the networks are called."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from detector_streams import gan_stream

import gandiag
from gandiag.detectors import DetectorSuite, build_detectors
from gandiag.roles import (
    DEFAULT_ROLES,
    NetworkRole,
    Role,
    expand_pattern,
    networks_in_stage,
    networks_with_role,
    parse_role,
    parse_stages,
)
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


def test_a_staged_network_keeps_its_role_and_names_its_stage() -> None:
    assert NetworkRole.of("generator") == NetworkRole(Role.GENERATOR, None)
    assert NetworkRole.of(("Discriminator", "res8")) == NetworkRole(Role.DISCRIMINATOR, "res8")
    with pytest.raises(ValueError, match="did you mean 'generator'"):
        NetworkRole.of(("genrator", "res8"))
    with pytest.raises(ValueError, match="non-empty string"):
        NetworkRole(Role.GENERATOR, "")
    with pytest.raises(ValueError, match="non-empty string"):
        parse_stages({"G_res4": 4})  # type: ignore[dict-item]
    roles = {"G_res4": Role.GENERATOR, "G_res8": Role.GENERATOR, "D_res8": Role.DISCRIMINATOR}
    stages = {"G_res4": "res4", "G_res8": "res8", "D_res8": "res8"}
    assert networks_in_stage(roles, stages, Role.GENERATOR, "res8") == ["G_res8"]
    assert networks_in_stage(roles, stages, "discriminator", "res4") == []
    # asked by role alone, every stage's network answers
    assert networks_with_role(roles, "generator") == ["G_res4", "G_res8"]


def test_monitor_records_stages_and_detectors_and_replay_get_them(tmp_path) -> None:
    G4, G8, D = _G(), _G(), torch.nn.Linear(2, 1)
    mon = gandiag.Monitor(
        tmp_path / "run",
        networks={"G_res4": (G4, "generator", "res4"), "D": (D, "discriminator")},
        generator={"G_res8": G8},
        stages={"G_res8": "res8"},
        latent_dim=4,
        generate=lambda z: G4(z) + G8(z),
        quiet=True,
        cadence=gandiag.monitor.Cadence(samples=0),
        detectors=build_detectors(["vanishing_gradients"]),
    )
    assert mon.stages == {"G_res4": "res4", "G_res8": "res8"}
    assert mon.detectors[0].stages == {"G_res4": "res4", "G_res8": "res8"}
    z = torch.randn(8, 4)
    out = G4(z) + G8(z)
    (out.sum() + D(out).sum()).backward()
    mon.step(
        0,
        {"G": 1.0, "D": 1.0},
        d_real=torch.zeros(8, 1),
        d_fake=torch.zeros(8, 1),
        real=torch.randn(8, 2),
        fake=out.detach(),
    )
    mon.close()
    reader = RunReader(tmp_path / "run")
    assert reader.meta("network_stages") == {"G_res4": "res4", "G_res8": "res8"}
    assert {"grad/G_res4/norm", "grad/G_res8/norm", "grad/D/norm"} <= set(reader.scalar_names())
    suite = DetectorSuite(build_detectors(["vanishing_gradients"]))
    suite.bind(reader.meta("networks"), reader.meta("network_stages"))
    assert suite.stages == {"G_res4": "res4", "G_res8": "res8"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stages": {"G_res16": "res16"}}, "not watched networks"),
        ({"stages": {"G": ""}}, "non-empty string"),
        (
            {
                "networks": {"M": (torch.nn.Linear(2, 2), "mapping", "res4")},
                "stages": {"M": "res8"},
            },
            "give it one stage",
        ),
        ({"networks": {"M": (torch.nn.Linear(2, 2), "mapping", "res4", 1)}}, "tuple of 4"),
    ],
)
def test_bad_stages_name_the_fix(tmp_path, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        gandiag.Monitor(
            tmp_path / "run",
            generator=torch.nn.Linear(2, 2),
            discriminator=torch.nn.Linear(2, 1),
            **kwargs,
        )


def test_transition_instability_reads_the_generators_by_role() -> None:
    """A generator watched per resolution (no network called G) shows the same blow-up."""
    from growing_streams import progan_stream

    base = progan_stream(blowup_at=450)
    expected = DetectorSuite(build_detectors(["transition_instability"])).run(base)
    assert [a.evidence.get("grad_G_ratio", 0) > 10 for a in expected] == [True]
    names = {"G": ["G_res4", "G_res8", "G_res16"], "D": ["D"]}
    roles = {n: Role.GENERATOR for n in names["G"]} | {"D": Role.DISCRIMINATOR}
    stages = {"G_res4": "res4", "G_res8": "res8", "G_res16": "res16"}
    suite = DetectorSuite(build_detectors(["transition_instability"]), roles)
    suite.bind(roles, stages)
    got = suite.run(_renamed(base, names))
    assert [(a.step, a.onset_step) for a in got] == [(a.step, a.onset_step) for a in expected]
    assert got[0].evidence["grad_G_ratio"] == pytest.approx(expected[0].evidence["grad_G_ratio"])
