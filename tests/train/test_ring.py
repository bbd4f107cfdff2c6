"""The checkpoint ring: health tags, pruning, and the last healthy state before an onset."""

import pytest
import torch

from gandiag.train.ring import CheckpointRing
from gandiag.types import Alert, Severity

WARN = Alert("mode_collapse", Severity.WARNING, 0, 0, "d")
INFO = Alert("d_overfitting", Severity.INFO, 0, 0, "d")


def test_last_healthy_is_the_newest_before_the_onset(tmp_path):
    ring = CheckpointRing(tmp_path / "ring", keep=3)
    for step in (100, 200, 300):
        ring.save(step, {"w": torch.full((2,), float(step))}, [INFO])
    ring.save(400, {"w": torch.zeros(2)}, [WARN])
    ring.save(500, {"w": torch.zeros(2)}, [WARN])
    # 100 is neither among the newest three nor the two newest healthy; the healthy chain
    # from 300 (age 200) reaches back to it
    assert [e.step for e in ring.entries] == [100, 200, 300, 400, 500]
    assert not ring.entries[-1].healthy and ring.entries[-1].alerts == ("mode_collapse",)
    entry = ring.last_healthy(before_step=300)
    assert entry.step == 200
    assert torch.equal(ring.load(entry)["w"], torch.full((2,), 200.0))
    assert ring.last_healthy(before_step=200).step == 100
    assert ring.last_healthy(before_step=100) is None
    # A new ring object reads the same index back.
    again = CheckpointRing(tmp_path / "ring", keep=3)
    assert again.entries == ring.entries
    assert sorted(p.name for p in (tmp_path / "ring").glob("*.pt")) == [
        "step-00000100.pt",
        "step-00000200.pt",
        "step-00000300.pt",
        "step-00000400.pt",
        "step-00000500.pt",
    ]


def test_the_last_healthy_checkpoint_survives_a_long_unhealthy_stretch(tmp_path):
    ring = CheckpointRing(tmp_path / "ring", keep=2)
    ring.save(5, {}, [])
    ring.save(10, {}, [])
    for step in (20, 30, 40, 50):
        ring.save(step, {}, [WARN])
    assert [e.step for e in ring.entries] == [5, 10, 40, 50]
    assert ring.last_healthy(before_step=45).step == 10
    assert ring.last_healthy(before_step=10).step == 5  # an onset before the newest healthy


@pytest.mark.parametrize("every", [10, 50])
def test_the_fork_point_is_never_further_before_the_onset_than_the_alerts_delay(tmp_path, every):
    # An alert known long after its onset (level_copy, fade_in) found the kept healthy
    # checkpoints all after the onset, and doctor forked from the initialisation. With the
    # healthy chain, for every onset the newest kept healthy checkpoint before it is at most
    # (newest step - onset) back, and the ring stays small (logarithmic in the run).
    ring = CheckpointRing(tmp_path / "ring", keep=4)
    for newest in range(0, 2000, every):
        ring.save(newest, {}, [])
        kept = [e.step for e in ring.entries]
        for onset in range(every, newest + 1, every):
            fork = ring.last_healthy(before_step=onset)
            assert fork is not None, (newest, onset, kept)
            assert onset - fork.step <= max(newest - onset, every), (newest, onset, kept)
    assert len(ring.entries) <= 4 + 2 * (2000 // every).bit_length()
    assert len(list((tmp_path / "ring").glob("*.pt"))) == len(ring.entries)


def test_a_fork_may_change_model_options_only_while_the_networks_still_fit(tmp_path, tiny_config):
    # doctor forks remedies that change a model option but not the parameters (StackGAN's
    # conditioning augmentation); one that changes the networks gets a clear refusal, not
    # a state-dict traceback, and nothing is trained
    from gandiag.train.trainer import train

    cfg = tiny_config(checkpoint={"every": 0, "ring": 4, "ring_every": 2})
    run = train(cfg, tmp_path / "run", progress=False)
    entry = CheckpointRing(run / "ring").entries[0]
    wider = tiny_config(
        model={"name": "mlp_gan", "options": {"hidden": 64}}, checkpoint={"every": 0}
    )
    with pytest.raises(ValueError, match=r"do not fit .*'hidden': \(128, 64\).*initialisation"):
        train(wider, tmp_path / "wider", progress=False, start_from=entry.path(run / "ring"))
    # a resume still refuses any change of options, as before
    with pytest.raises(ValueError, match="different options"):
        train({**wider, "steps": 8}, run, resume=True, progress=False)


def test_a_fork_and_a_rollback_reach_optimisers_kept_in_a_dict():
    # the video GAN keeps one optimiser per discriminator in a dict: a fork must set their
    # learning rates too (doctor's temporal_d_lr remedy had no effect without it)
    from types import SimpleNamespace

    from gandiag.train.trainer import _optimizers

    def opt():
        return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)

    g, d_s, d_t = opt(), opt(), opt()
    stepper = SimpleNamespace(opt_g=g, opt_d={"D_S": d_s, "D_T": d_t}, gen=None, steps=[1, 2])
    assert _optimizers(stepper) == [g, d_s, d_t]
