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

# The image types gandiag writes (sample grids are PNG), recognised by suffix AND content.
_IMAGE_TYPES = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".gif": ("image/gif", (b"GIF87a", b"GIF89a")),
}
# Sent with every file served from a run: no content sniffing, and a policy under which a
# served file can neither run script nor load anything, even when opened on its own.
SERVED_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "Content-Disposition": "inline",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def image_type(path: Path) -> str | None:
    """The MIME type of ``path`` if it is a PNG, JPEG or GIF by both suffix and content."""
    kind = _IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    return kind[0] if head.startswith(kind[1]) else None


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
