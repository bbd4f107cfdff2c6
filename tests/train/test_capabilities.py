"""The trainer and evaluation ask what a model or dataset can do, never what it is called."""

from __future__ import annotations

import dataclasses

import pytest

from gandiag import signals
from gandiag.capabilities import DatasetCapabilities, ModelCapabilities
from gandiag.data import DATASETS, register_dataset
from gandiag.detectors.collapse import eval_coverage
from gandiag.reference_models import MODELS, build_model, get_spec, register_model
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.types import StepRecord


@pytest.fixture
def renamed_specs():
    """cgan and acgan registered again under names the code cannot know."""
    added = []
    for old, new in (("cgan", "my_conditional"), ("acgan", "my_auxiliary")):
        register_model(dataclasses.replace(get_spec(old), name=new))
        added.append(new)
    yield added
    for name in added:
        MODELS.unregister(name)


def test_a_renamed_model_trains_as_the_original(renamed_specs, tmp_path, tiny_config) -> None:
    for name, ref in zip(renamed_specs, ("cgan", "acgan")):
        a, b = build_model(name, seed=0), build_model(ref, seed=0)
        assert a.capabilities == b.capabilities
        assert repr(a.discriminator) == repr(b.discriminator)
        cfg = tiny_config(
            steps=2,
            model={"name": name, "options": {"width": 8, "latent_dim": 8}},
            data={"name": "glyphs", "options": {"n": 64}, "batch_size": 16},
            eval={"every": 0, "num_samples": 32, "metrics": []},
        )
        reader = RunReader(train(cfg, tmp_path / name, progress=False))
        losses = reader.scalar_names()
        want = "loss/D_aux" if ref == "acgan" else "loss/D"
        assert want in losses
        # a class-conditional model gets the condition probe and its detector, by capability
        assert signals.COND_VARIANCE_SHARE in losses
        assert (signals.COND_D_MATCH_GAP in losses) == (ref == "cgan")  # D takes the labels
        assert "condition_ignored" in [d["name"] for d in reader.meta("detectors")]


def test_capabilities_validate() -> None:
    with pytest.raises(ValueError, match="needs conditional=True"):
        ModelCapabilities(aux_classifier=True)
    caps = ModelCapabilities(networks_per_role={"generator": 2, "discriminator": 2})
    assert dict(caps.networks_per_role) == {"generator": 2, "discriminator": 2}
    with pytest.raises(ValueError, match="valid roles"):
        ModelCapabilities(networks_per_role={"critic": 1})
    with pytest.raises(ValueError, match="needs paired_input=True"):
        ModelCapabilities(paired_discriminator=True)
    assert get_spec("pix2pix").capabilities.paired_discriminator
    assert not get_spec("cyclegan").capabilities.paired_discriminator
    assert get_spec("infogan").capabilities.has_aux_head
    assert not get_spec("dcgan").capabilities.has_aux_head


def test_class_coverage_reads_the_logged_class_count() -> None:
    rec = StepRecord(5, {signals.EVAL_CLASSES_COVERED: 3.0, signals.EVAL_NUM_CLASSES: 20.0})
    assert eval_coverage(rec) == pytest.approx(0.15)
    # Without the count nothing is assumed.
    assert eval_coverage(StepRecord(5, {signals.EVAL_CLASSES_COVERED: 3.0})) is None


def test_a_dataset_declares_its_classifier(tmp_path, tiny_config) -> None:
    name = "glyphs_under_another_name"
    if name not in DATASETS:
        loader = DATASETS["glyphs"].loader
        register_dataset(
            name,
            "the glyphs again",
            capabilities=DatasetCapabilities(classifier="glyph"),
            **DATASETS["glyphs"].options,
        )(loader)
    cfg = tiny_config(
        steps=2,
        model={"name": "dcgan", "options": {"width": 8, "latent_dim": 8}},
        data={"name": name, "options": {"n": 64}, "batch_size": 16},
        eval={"every": 0, "num_samples": 64, "metrics": []},
    )
    reader = RunReader(train(cfg, tmp_path / "run", progress=False))
    series = reader.read_scalars([signals.EVAL_CLASSES_COVERED, signals.EVAL_NUM_CLASSES])
    assert series[signals.EVAL_NUM_CLASSES].values.tolist() == [10.0]
    assert len(series[signals.EVAL_CLASSES_COVERED].values) == 1
