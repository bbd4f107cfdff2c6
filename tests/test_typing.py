"""The public API is typed for a user's type checker: gandiag's lazy exports are not ``Any``."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_all_lists_every_lazy_export() -> None:
    import gandiag

    assert sorted(gandiag.__all__) == sorted(gandiag._LAZY)
    assert all(getattr(gandiag, name) is not None for name in gandiag.__all__)


@pytest.mark.slow  # mypy follows the exports into torch (about 20 s of CPU, cold)
def test_exports_have_their_real_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip("mypy.api")
    use = tmp_path / "use.py"
    names = ["Monitor", "RunReader", "RunWriter", "StepRecord", "Alert", "Severity"]
    use.write_text("import gandiag\n\n" + "".join(f"x_{n}: int = gandiag.{n}\n" for n in names))
    monkeypatch.setenv("MYPYPATH", str(ROOT))  # an editable install is invisible to mypy
    out, err, _ = api.run(
        [str(use), "--follow-imports", "silent", "--cache-dir", str(tmp_path / "cache")]
    )
    assert "import-not-found" not in out, out + err
    for n in names:
        assert f'has type "type[{n}]", variable has type "int"' in out, out
