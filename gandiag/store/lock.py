"""One writer per run: ``run_dir/writer.lock``, held by the process writing the run.

On POSIX the lock is an ``flock`` on that file: the kernel releases it when the holder
exits, however it exits (SIGKILL included), so a lock left by a killed writer is never
mistaken for a live one and is simply taken over. Where ``fcntl`` is missing (Windows) the
file is created with ``O_EXCL`` and a lock whose process is gone on this host counts as stale.
Either way the file records who holds it (pid, host, start time) so a refusal can name them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "writer.lock"


class RunLockedError(RuntimeError):
    """Another live process is writing the run; nothing was modified."""

    def __init__(self, run_dir: Path, holder: WriterInfo | None) -> None:
        self.run_dir = run_dir
        self.holder = holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(
            f"{run_dir} is being written by {who}; a run has one writer at a time. Nothing "
            "was modified. Wait for that process to finish (or stop it) before resuming, write "
            "to a new directory, or read the run (dashboard, report, replay without --write) "
            "while it trains."
        )


@dataclass(frozen=True)
class WriterInfo:
    pid: int
    host: str
    started: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"process {self.pid} on host {self.host!r} (writing since {when})"

    @classmethod
    def of_this_process(cls) -> WriterInfo:
        return cls(os.getpid(), socket.gethostname(), time.time())

    @classmethod
    def parse(cls, text: str) -> WriterInfo | None:
        try:
            d: Any = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), float(d["started"]))
        except (ValueError, KeyError, TypeError):
            return None

    def dumps(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started})


def lock_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / LOCK_NAME


class WriterLock:
    """The run's writer lock, held from :meth:`acquire` until :meth:`release` (or exit)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = lock_path(self.run_dir)
        self._fd: int | None = None
        self.created = False  # whether acquire() created the lock file

    def acquire(self) -> WriterLock:
        """Take the lock or raise :class:`RunLockedError` naming its holder."""
        if fcntl is not None:
            self._acquire_flock()
        else:  # pragma: no cover - Windows
            self._acquire_exclusive()
        return self

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        try:
            if remove:  # only while still holding it, so no other writer loses its file
                self.path.unlink(missing_ok=True)
            elif fcntl is not None:
                os.ftruncate(self._fd, 0)
        except OSError:
            pass
        finally:
            os.close(self._fd)  # releases the flock
            self._fd = None
        if fcntl is None:  # pragma: no cover - Windows
            self.path.unlink(missing_ok=True)

    def __del__(self) -> None:  # a writer dropped without close() still lets go of the run
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _acquire_flock(self) -> None:
        self.created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(4):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                holder = WriterInfo.parse(_read(fd))
                # No live holder recorded: a reader's brief shared lock (current_writer) or
                # a writer between flock and recording itself; look again shortly.
                if (holder is None or _stale(holder)) and attempt < 3:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                raise RunLockedError(self.run_dir, holder) from None
        try:
            data = WriterInfo.of_this_process().dumps().encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _acquire_exclusive(self) -> None:  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = WriterInfo.parse(self.path.read_text(errors="replace"))
                if holder is not None and not _stale(holder):
                    raise RunLockedError(self.run_dir, holder) from None
                self.path.unlink(missing_ok=True)  # left by a writer that is gone
                continue
            os.write(fd, WriterInfo.of_this_process().dumps().encode())
            self._fd, self.created = fd, True
            return
        raise RunLockedError(self.run_dir, None)


def current_writer(run_dir: str | Path) -> WriterInfo | None:
    """The live process writing ``run_dir``, or ``None``; reads only, never takes the lock."""
    path = lock_path(run_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is not None:
            try:
                # A shared lock succeeds only when no writer holds the exclusive one.
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return WriterInfo.parse(_read(fd)) or WriterInfo(-1, "?", 0.0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        holder = WriterInfo.parse(_read(fd))  # pragma: no cover - Windows
        return holder if holder is not None and not _stale(holder) else None
    finally:
        os.close(fd)


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode(errors="replace")
    except OSError:
        return ""


def _stale(holder: WriterInfo) -> bool:
    from gandiag.store.reader import _pid_alive

    return holder.host == socket.gethostname() and not _pid_alive(holder.pid)
