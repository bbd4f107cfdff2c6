import numpy as np
import pytest

from gandiag.data import load_dataset
from gandiag.data.translation import (
    TranslationDataset,
    block_mean,
    dilate,
    erode,
    remap_levels,
    restyle,
)


@pytest.mark.parametrize(
    "name,options",
    [("glyphs_unpaired", {"style": "thick"}), ("glyphs_edges", {}), ("glyphs_sr", {"scale": 4})],
)
def test_translation_sets_are_deterministic_by_seed(name, options):
    a = load_dataset(name, n=40, seed=3, **options)
    b = load_dataset(name, n=40, seed=3, **options)
    c = load_dataset(name, n=40, seed=4, **options)
    assert isinstance(a, TranslationDataset)
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)
    assert a.array.dtype == a.inputs.dtype == np.uint8
    assert a.array.shape == (40, 1, 28, 28)


def test_unpaired_domains_come_from_different_glyphs():
    ds = load_dataset("glyphs_unpaired", n=60, seed=0, style="thick")
    assert not ds.paired and ds.task == "unpaired"
    # B is not the restyled A: its classes follow their own order
    assert not np.array_equal(ds.labels, ds.input_labels)
    assert ds.array.mean() > ds.inputs.mean()  # thick strokes: more ink


def test_paired_sets_are_aligned():
    sr = load_dataset("glyphs_sr", n=20, seed=1, scale=4)
    assert sr.paired and sr.task == "super_resolution" and sr.inputs.shape == (20, 1, 7, 7)
    np.testing.assert_array_equal(sr.inputs[:, 0], block_mean(sr.array[:, 0], 4))
    edges = load_dataset("glyphs_edges", n=20, seed=1)
    np.testing.assert_array_equal(edges.inputs[:, 0], restyle(edges.array[:, 0], "outline"))
    assert np.array_equal(edges.labels, edges.input_labels)


def test_morphology_and_styles():
    img = np.zeros((1, 8, 8), np.uint8)
    img[0, 4, 4] = 200
    assert dilate(img)[0, 3:6, 3:6].min() == 200 and dilate(img).sum() == 9 * 200
    assert erode(dilate(img))[0, 4, 4] == 200 and erode(img).max() == 0
    coarse = restyle(np.full((2, 28, 28), 10, np.uint8), "coarse")
    assert coarse.shape == (2, 28, 28) and (coarse == 10).all()
    with pytest.raises(ValueError, match="choose one of"):
        restyle(img, "bold")
    with pytest.raises(ValueError, match="multiple"):
        block_mean(np.zeros((1, 10, 10), np.uint8), 4)


def test_unpaired_domains_carry_their_correct_translations():
    ds = load_dataset("glyphs_unpaired", n=30, seed=2, style="thick")
    # each A image's correct translation is its restyle; each B image was made from a glyph
    np.testing.assert_array_equal(ds.input_truth[:, 0], restyle(ds.inputs[:, 0], "thick"))
    np.testing.assert_array_equal(restyle(ds.target_truth[:, 0], "thick"), ds.array[:, 0])
    assert ds.input_truth.shape == ds.inputs.shape and ds.target_truth.shape == ds.array.shape
    assert load_dataset("glyphs_edges", n=10).input_truth is None  # paired: the target is it


def test_coarse_block_size():
    ds = load_dataset("glyphs_unpaired", n=10, seed=0, style="coarse", block=7)
    b = ds.array[:, 0].reshape(10, 4, 7, 4, 7)
    assert (b == b[:, :, :1, :, :1]).all()  # constant on 7x7 blocks: a 4x4 image
    np.testing.assert_array_equal(ds.input_truth[:, 0], restyle(ds.inputs[:, 0], "coarse", 7))
    assert ds.info["block"] == 7


def test_paired_inputs_in_another_style():
    ds = load_dataset("glyphs_edges", n=12, seed=1, input="coarse", block=4)
    np.testing.assert_array_equal(ds.inputs[:, 0], restyle(ds.array[:, 0], "coarse", 4))
    b = ds.inputs[:, 0].reshape(12, 7, 4, 7, 4)
    assert (b == b[:, :, :1, :, :1]).all()  # a 7x7 image held at 28x28
    assert ds.info == {"input": "coarse", "block": 4}
    with pytest.raises(ValueError, match="choose one of"):
        load_dataset("glyphs_edges", n=4, input="bold")


def test_colour_domains_bold_remapped_and_partly_negative():
    n = 200
    ds = load_dataset(
        "glyphs_unpaired", n=n, seed=1, style="plain", bold=4, levels=[70, 190], negative=0.5
    )
    plain = load_dataset("glyphs_unpaired", n=n, seed=1, style="plain")
    # bold: both domains dilated by 4 px; strokes then cover about half the frame
    np.testing.assert_array_equal(ds.inputs[:, 0], dilate(plain.inputs[:, 0], 4))
    np.testing.assert_array_equal(ds.target_truth[:, 0], dilate(plain.target_truth[:, 0], 4))
    assert 0.35 < (ds.inputs > 127).mean() < 0.6
    # the correct translation keeps the polarity and moves 0 -> 70, 255 -> 190
    np.testing.assert_array_equal(ds.input_truth[:, 0], remap_levels(ds.inputs[:, 0], 70, 190))
    # each B image is its glyph remapped, printed in negative for about half of them
    positive = remap_levels(ds.target_truth[:, 0], 70, 190)
    same = (ds.array[:, 0] == positive).all(axis=(1, 2))
    negated = (ds.array[:, 0] == 255 - positive).all(axis=(1, 2))
    assert (same ^ negated).all() and 0.35 < negated.mean() < 0.65
    with pytest.raises(ValueError, match="share of B"):
        load_dataset("glyphs_unpaired", n=10, negative=1.5)
    with pytest.raises(ValueError, match="grey level"):
        load_dataset("glyphs_unpaired", n=10, levels=[0, 300])


def test_default_unpaired_options_leave_the_domains_unchanged():
    ds = load_dataset("glyphs_unpaired", n=30, seed=0, style="thick")
    np.testing.assert_array_equal(ds.array[:, 0], restyle(ds.target_truth[:, 0], "thick"))
    np.testing.assert_array_equal(restyle(ds.inputs[:, 0], "plain"), ds.inputs[:, 0])
    img = np.arange(256, dtype=np.uint8)[None, None]
    np.testing.assert_array_equal(remap_levels(img, 0, 255), img)
    assert remap_levels(img, 70, 190)[0, 0, [0, 255]].tolist() == [70, 190]
