import numpy as np
import pytest
import torch
from cleanfid.resize import make_resizer

from gandiag.features import clean_resize, get_extractor
from gandiag.features.glyph import sha256_file
from gandiag.features.inception import INCEPTION_SHA256


class _Layers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 12, 9, stride=8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 1)


class _TinyInception(torch.nn.Module):
    """Same calling convention as NVIDIA's TorchScript Inception (layers + forward flags)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layers = _Layers()
        self.fc = torch.nn.Linear(12, 5)

    def forward(
        self, x: torch.Tensor, return_features: bool = False, no_output_bias: bool = False
    ) -> torch.Tensor:
        f = self.layers((x - 128.0) / 128.0).flatten(1)
        if return_features:
            return f
        return torch.softmax(self.fc(f), dim=1)


@pytest.fixture
def tiny_inception(tmp_path):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(_TinyInception()).save(str(path))
    return path


def test_registry_error_lists_valid_names():
    with pytest.raises(ValueError, match="glyph, identity, inception"):
        get_extractor("resnet")


def test_identity_and_module_extractors():
    pts = np.random.default_rng(0).normal(size=(10, 2))
    np.testing.assert_allclose(get_extractor("identity")(pts).numpy(), pts, rtol=1e-6)
    lin = torch.nn.Linear(4, 3)
    ext = get_extractor(torch.nn.Sequential(torch.nn.Flatten(), lin), input_range=None)
    x = torch.randn(5, 1, 2, 2)
    torch.testing.assert_close(ext(x), lin(x.flatten(1)).detach())
    assert len(ext.protocol()["weights_sha256"]) == 64
    with pytest.raises(ValueError, match="no classifier head"):
        ext.logits(x)


def test_inception_missing_file_is_an_immediate_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("GANDIAG_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="GANDIAG_INCEPTION_WEIGHTS"):
        get_extractor("inception")
    with pytest.raises(FileNotFoundError, match="nvlabs-fi-cdn"):
        get_extractor("inception", path=tmp_path / "missing.pt")


def test_inception_checksum(tiny_inception, monkeypatch):
    digest = sha256_file(tiny_inception)
    with pytest.raises(ValueError, match="download it again"):
        get_extractor("inception", path=tiny_inception, sha256="0" * 64)
    ext = get_extractor("inception", path=tiny_inception, sha256=digest)
    assert ext.protocol()["weights_sha256"] == digest
    monkeypatch.setenv("GANDIAG_INCEPTION_WEIGHTS", str(tiny_inception.parent))  # a folder works
    monkeypatch.delenv("GANDIAG_INCEPTION_SHA256", raising=False)
    # Without an explicit checksum the file must be NVIDIA's: the stand-in is refused.
    with pytest.raises(ValueError, match=INCEPTION_SHA256 + ".*--inception-sha256"):
        get_extractor("inception")
    monkeypatch.setenv("GANDIAG_INCEPTION_SHA256", digest.upper())
    assert get_extractor("inception").protocol()["weights_sha256"] == digest


def test_inception_features_logits_and_channels(tiny_inception):
    ext = get_extractor("inception", path=tiny_inception, sha256=sha256_file(tiny_inception))
    imgs = torch.randint(0, 256, (3, 1, 20, 20), dtype=torch.uint8)
    assert ext(imgs).shape == (3, 12)
    assert torch.allclose(ext.logits(imgs).exp().sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="1 or 3-channel"):
        ext(torch.zeros(2, 4, 20, 20, dtype=torch.uint8))


def test_clean_resize_matches_cleanfid():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (28, 28, 3)).astype(np.uint8)
    ref = make_resizer("PIL", False, "bicubic", (299, 299))(img)  # HWC float32
    ours = (
        clean_resize(torch.from_numpy(img).permute(2, 0, 1)[None].float())[0]
        .permute(1, 2, 0)
        .numpy()
    )
    np.testing.assert_array_equal(ours, ref)


def test_clean_resize_threads_give_cleanfids_numbers():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (5, 3, 21, 17)).astype(np.float32)
    ref = make_resizer("PIL", False, "bicubic", (299, 299))
    want = np.stack([ref(im.transpose(1, 2, 0).astype(np.uint8)) for im in imgs])
    for threads in (1, 3, None):
        got = clean_resize(torch.from_numpy(imgs), threads=threads).permute(0, 2, 3, 1).numpy()
        np.testing.assert_array_equal(got, want)
