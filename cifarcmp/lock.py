"""One writer at a time for a folder: a lock that dies with its process.

`hold(path, what)` takes an exclusive `fcntl.flock` on `path` (created if needed) for the duration
of a `with` block and writes the holder's process id and command into it, so a second command gets
one line saying who holds it. The kernel releases a flock when its process exits, however it
exits (SIGKILL included), so a stale lock can never block a rerun.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from cifarcmp.errors import UserError


@contextlib.contextmanager
def hold(path: Path, what: str) -> Iterator[None]:
    """Hold the lock at `path` while the block runs; UserError at once if another process has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_lock_file(path, what)
    # O_NOFOLLOW: a link put at the lock's name must not let us write into the file it points to.
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666)
    with os.fdopen(descriptor, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(f"{what} is in use by {holder}; wait for it to finish (lock: {path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{HOLDER_PREFIX}{os.getpid()} ({' '.join(sys.argv[:3])})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


# What a lock file ever holds: nothing (between holders) or the holder's line written above.
HOLDER_PREFIX = "process "


def _check_lock_file(path: Path, what: str) -> None:
    """Refuse a lock path that holds something of a user's: the lock is truncated and rewritten."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UserError(f"{path}: not a lock file cifarcmp made (a link or folder), needed for {what}; move it away")
    if path.is_file():
        with open(path, "rb") as handle:
            content = handle.read(4096)
        if content and not content.startswith(HOLDER_PREFIX.encode()):
            raise UserError(
                f"{path}: not a lock file cifarcmp made (it holds other text), needed for {what}; move it away"
            )
