import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from gandiag.data import list_datasets, load_dataset, make_stacked_glyphs
from gandiag.data.files import read_idx


def _write_idx(path, arr, gz=False):
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_registry_lists_required_datasets_and_errors_name_them():
    assert {
        "ring8",
        "grid25",
        "spiral",
        "glyphs",
        "stacked_glyphs",
        "mnist",
        "fashion_mnist",
        "cifar10",
        "image_folder",
        "npz",
    } <= set(list_datasets())
    with pytest.raises(ValueError, match=r"unknown dataset 'rings8'.*ring8.*glyphs"):
        load_dataset("rings8")
    with pytest.raises(ValueError, match=r"no option 'sigm' \(did you mean 'sigma'"):
        load_dataset("ring8", sigm=1)
    with pytest.raises(ValueError, match="set its 'root' option"):
        load_dataset("mnist")


def test_glyph_batches_are_in_tanh_range():
    ds = load_dataset("glyphs", n=20, image_size=32)
    x = ds.batch(np.arange(20))
    assert x.shape == (20, 1, 32, 32) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() <= 1.0
    assert ds.num_classes == 10 and ds.model_shape_options()["image_size"] == 32


def test_stacked_glyphs_label_is_the_three_digits():
    x, y = make_stacked_glyphs(30, seed=0)
    base, digits = load_dataset("glyphs", n=30).array[:, 0], load_dataset("glyphs", n=30).labels
    assert x.shape == (30, 3, 28, 28)
    for i in range(30):
        for c, div in enumerate((100, 10, 1)):
            match = [j for j in range(30) if np.array_equal(base[j], x[i, c])]
            assert match and digits[match[0]] == (y[i] // div) % 10


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_round_trip(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28))
    y = np.arange(7) % 10
    suffix = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", x, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", y, gz)
    ds = load_dataset("fashion_mnist", root=str(tmp_path))
    assert np.array_equal(ds.array[:, 0], x) and np.array_equal(ds.labels, y)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", root=str(tmp_path), split="test")


def test_malformed_idx_is_explained(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x89PNG....")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((4, 2, 2)))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    pix = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    rec = np.concatenate([np.array([[3], [7]], np.uint8), pix.reshape(2, -1)], 1)
    rec.tofile(folder / "test_batch.bin")
    ds = load_dataset("cifar10", root=str(tmp_path), split="test")
    assert np.array_equal(ds.array, pix) and ds.labels.tolist() == [3, 7]
    (folder / "test_batch.bin").write_bytes(rec.tobytes()[:-1])
    with pytest.raises(ValueError, match="multiple of 3073"):
        load_dataset("cifar10", root=str(tmp_path), split="test")
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "cifar-10-batches-py").mkdir()
    with pytest.raises(FileNotFoundError, match="never unpickles"):
        load_dataset("cifar10", root=str(tmp_path / "py"))


def test_image_folder_classes_from_subfolders(tmp_path):
    for cls, colour in (("cats", 10), ("dogs", 200)):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.new("RGB", (40, 30), (colour, colour, colour)).save(tmp_path / cls / f"{i}.png")
    ds = load_dataset("image_folder", root=str(tmp_path), image_size=16)
    assert ds.array.shape == (4, 3, 16, 16) and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.info["classes"] == ["cats", "dogs"] and abs(int(ds.array[3].mean()) - 200) <= 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        load_dataset("image_folder", root=str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("image_folder", root=str(tmp_path / "missing"))


def test_npz_images_points_and_no_pickle(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=imgs, labels=np.arange(5))
    ds = load_dataset("npz", path=str(tmp_path / "a.npz"))
    assert ds.array.shape == (5, 3, 8, 8) and np.array_equal(ds.array.transpose(0, 2, 3, 1), imgs)
    np.savez(tmp_path / "p.npz", x=np.random.default_rng(0).normal(size=(10, 2)))
    assert load_dataset("npz", path=str(tmp_path / "p.npz")).kind == "points"
    np.savez(tmp_path / "o.npz", images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="unpickling"):
        load_dataset("npz", path=str(tmp_path / "o.npz"))
    with pytest.raises(ValueError, match="'key' option"):
        np.savez(tmp_path / "m.npz", a=imgs, b=imgs)
        load_dataset("npz", path=str(tmp_path / "m.npz"))
