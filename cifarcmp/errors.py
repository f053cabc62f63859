"""The one exception type a user sees as a single line (the CLI catches it and exits non-zero)."""


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
