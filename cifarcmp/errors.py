"""The one exception type a user sees as a single line (the CLI catches it and exits non-zero)."""

import errno


class UserError(Exception):
    """Bad input or an unusable environment: the message says what is wrong and what to do."""


# Failures of the disk rather than of the program: they become one line, not a traceback.
DISK_ERRORS = {
    28: "no space left on device",
    30: "read-only file system",
    13: "permission denied",
    122: "disk quota exceeded",
}


def disk_error(error: OSError, where=None) -> UserError | None:
    """A UserError for a full, read-only or forbidden disk (HDF5 reports errno only in its text)."""
    number = error.errno
    if number not in DISK_ERRORS:
        text = str(error)
        number = next((code for code in DISK_ERRORS if f"errno = {code}," in text), None)
        if number is None:
            return None
    path = error.filename or where or "the disk"
    return UserError(f"{path}: {DISK_ERRORS[number]}; make room (or fix the permissions) and rerun the same command")


def path_error(error: BaseException) -> UserError | None:
    """A UserError for a path the file system cannot use: a name too long, a loop of links, a file
    where a folder should be. None for anything else (a bug, which keeps its traceback)."""
    if isinstance(error, RuntimeError) and str(error).startswith("Symlink loop from "):
        # pathlib's resolve() reports a loop of links as a RuntimeError.
        where = str(error).removeprefix("Symlink loop from ").strip("'")
        return UserError(f"{_short(where)}: a loop of symbolic links; fix or remove the link and rerun")
    if not isinstance(error, OSError) or error.filename is None:
        return None
    where = _short(str(error.filename))
    if error.errno == errno.ENAMETOOLONG:
        return UserError(
            f"{where}: a name in this path is longer than the file system allows ({error.strerror}); "
            "choose a shorter path"
        )
    if error.errno == errno.ELOOP:
        return UserError(f"{where}: a loop of symbolic links ({error.strerror}); fix or remove the link and rerun")
    return UserError(f"{where}: cannot use this path ({error.strerror or error}); choose another")


def _short(path: str, limit: int = 160) -> str:
    """A path short enough to read in one line: its start and end, the middle elided."""
    return path if len(path) <= limit else f"{path[: limit // 2]}...{path[-limit // 2 :]}"


def terminal_line(text: object) -> str:
    """`text` as one printable line: a newline or control character (in a path, say) escaped, so
    that an error stays the single line it is meant to be."""
    return "".join(character if character.isprintable() else ascii(character)[1:-1] for character in str(text))
