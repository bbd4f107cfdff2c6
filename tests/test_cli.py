"""The command line: every subcommand exists with --help, and bad input is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gandiag.cli import SUBCOMMANDS, build_parser, main


def test_every_subcommand_is_registered() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = set(sub.choices)
    expected = {name.replace("_", "-") for name in SUBCOMMANDS}
    assert expected <= registered, f"missing subcommands: {sorted(expected - registered)}"


@pytest.mark.parametrize("name", [n.replace("_", "-") for n in SUBCOMMANDS])
def test_help_of_each_subcommand(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gandiag " + name)


def test_console_script_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gandiag", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for name in SUBCOMMANDS:
        assert name.replace("_", "-") in proc.stdout


def test_replay_on_a_directory_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a gandiag run" in err and "Traceback" not in err
