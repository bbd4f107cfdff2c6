"""The runs folder a dashboard serves: run ids in URLs, opening runs safely, file URLs.

A run id is the run directory's path relative to the runs folder, URL-quoted. Every id
and file path coming from a browser is resolved and refused unless it lies inside the
runs folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from gandiag.store import RunReader, find_runs, is_run_dir
from gandiag.store.schema import CorruptRunError, NotARunError, SchemaVersionError

FILES_ROUTE = "/runfiles/"
READ_ERRORS = (NotARunError, CorruptRunError, SchemaVersionError, OSError)


@dataclass(frozen=True)
class RunsFolder:
    root: Path
    live_interval_ms: int = 2000
    max_points: int = 600

    @classmethod
    def open(cls, runs_dir: str | Path, **kw: int) -> RunsFolder:
        root = Path(runs_dir).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(
                f"runs folder {root} does not exist; pass the folder your runs are written to "
                "(e.g. `gandiag dashboard ./runs`)"
            )
        return cls(root.resolve(), **kw)

    def run_dirs(self) -> list[Path]:
        return find_runs(self.root)

    def run_id(self, run_dir: Path) -> str:
        rel = Path(run_dir).resolve().relative_to(self.root).as_posix()
        return quote(rel if rel != "." else ".", safe="")

    def run_path(self, run_id: str) -> Path:
        """The run directory for ``run_id``; ``NotARunError`` if it is not a run inside the folder."""
        rel = unquote(unquote(run_id or ""))
        path = (self.root / rel).resolve()
        if path != self.root and self.root not in path.parents:
            raise NotARunError(f"{rel!r} is not inside the runs folder")
        if not is_run_dir(path):
            raise NotARunError(
                f"no gandiag run at {rel!r} in {self.root}; pick one from the runs page"
            )
        return path

    def reader(self, run_id: str) -> RunReader:
        return RunReader(self.run_path(run_id))

    def file_url(self, path: Path) -> str:
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return FILES_ROUTE + quote(rel)

    def resolve_file(self, rel: str) -> Path | None:
        """The file at ``rel`` if it is a regular file inside the folder, else ``None``."""
        try:
            path = (self.root / unquote(rel)).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if self.root not in path.parents or not path.is_file():
            return None
        return path
