"""Atomic file writes: a crash mid-write never leaves a half-written file behind.

The temp file is hidden beside the target, named `.NAME.PID.RANDOM.tmp`. A writer killed
outright (kill -9, power loss) cannot remove its own; the next write to the same folder
removes the ones whose writer is gone, so they do not pile up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it

STALE_TEMP_SECONDS = 3600  # a temp file untouched this long is a leftover, whoever wrote it
DEAD_WRITER_IDLE_SECONDS = 60  # one whose writer PID is gone is a leftover once idle this long
# (the idle time keeps a live writer on another machine sharing the folder, whose PID means
# nothing here, from losing its temp file mid-write)
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[a-z0-9_]{8}\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a number we cannot ask about): assume alive
    return True


def remove_stale_temp_files(folder: str | Path, now: float | None = None) -> list[Path]:
    """Delete the temp files of interrupted atomic writes in `folder`; returns what was removed.

    A temp file is stale when untouched for STALE_TEMP_SECONDS, or when the process named
    in it no longer exists and it has been idle DEAD_WRITER_IDLE_SECONDS. Never raises.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            idle = now - entry.stat(follow_symlinks=False).st_mtime
            pid = int(match["pid"]) if match["pid"] else None
            writer_gone = pid is not None and pid != os.getpid() and not _pid_alive(pid)
            if idle > STALE_TEMP_SECONDS or (writer_gone and idle > DEAD_WRITER_IDLE_SECONDS):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on success fsync it and rename it over `path`.

    The rename is atomic on POSIX, so readers see either the old or the new file.
    On an exception the temp file is removed and `path` is left as it was.
    On an OSError without a file name (a full disk during write or fsync) the error is
    raised again naming `path`, so a message can say which file could not be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, tmp):
            raise OSError(e.errno, e.strerror, str(path)) from e  # OSError() picks the subclass of errno
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)
