"""The package installs under one namespace, editable and as a wheel, with its data files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {
    "reference_models": "gandiag.reference_models",
    "dashboards": "gandiag.dashboards",
    "reports": "gandiag.reports",
}


def _package_dirs() -> set[str]:
    names = set()
    for init in ROOT.glob("**/__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts[0] in ("tests", "bench", "build", "scripts") or any(
            p.startswith(".") for p in rel.parts
        ):
            continue
        top = rel.parts[0]
        prefix = MAPPED.get(top, top)
        names.add(".".join([prefix, *rel.parts[1:]]))
    return names


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    data_only = {"gandiag.assets"}  # folders of package data, no Python
    assert all((ROOT / name.replace(".", "/")).is_dir() for name in data_only)
    assert _package_dirs() == listed - data_only


def test_mapped_packages_resolve_from_a_checkout() -> None:
    # Tools that read the checkout (type checkers, IDEs, `python -c` in the repository)
    # follow gandiag/<folder> to the top-level folder the wheel maps it from.
    readme = (ROOT / "README.md").read_text()
    for folder, dotted in MAPPED.items():
        link = ROOT / "gandiag" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve(), link
        assert f"`{folder}/`" in readme and f"`{dotted}`" in readme  # the layout table
        assert f"installs as\n``{dotted}``" in (ROOT / folder / "__init__.py").read_text()


def test_editable_install_imports_the_mapped_packages_from_elsewhere(tmp_path: Path) -> None:
    code = (
        "import gandiag.reference_models, gandiag.dashboards, gandiag.reports, gandiag.store;"
        "import importlib.util as u;"
        "assert u.find_spec('reports') is None and u.find_spec('dashboards') is None, 'generic names leaked'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


@pytest.mark.slow
def test_built_wheel_has_only_the_gandiag_namespace_and_imports(tmp_path: Path) -> None:
    # Build from a copy so the build leaves nothing in the checkout.
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", "artifacts", "runs"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("gandiag-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"gandiag"}
    assert "gandiag/reports/__init__.py" in names and "gandiag/dashboards/__init__.py" in names
    assert any(n.startswith("gandiag/assets/glyph_classifier") for n in names), (
        "classifier weights missing"
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import gandiag, gandiag.reference_models, gandiag.dashboards, gandiag.reports, gandiag.store;"
        f"assert gandiag.__file__.startswith({str(target)!r}), gandiag.__file__"
    )
    subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); " + code],
        cwd=tmp_path,
        check=True,
    )
