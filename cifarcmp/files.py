"""Files written all or nothing: a reader sees the old file or the new one, never half of one.

One way to do it for the whole package: write a temporary file beside the target, flush it to the
disk, rename it into place. Results, evaluations, the synthetic archive and the PDF use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new temporary file beside `path` to write; renamed onto `path` when the block ends well.

    A reader (the report, a browser download, the next run) then sees the old file or the new
    one, never half of one, whatever interrupts the writer; if the block fails, the temporary file
    is removed and `path` is as it was. The file is flushed to the disk before the rename, so a
    full disk or an exceeded quota fails here, where it can still be reported (file systems that
    allocate late, or network ones, report it only at the close). `suffix` keeps the extension a
    writer may go by (an archive's `.tar.gz`, a PDF's `.pdf`).
    """
    temporary = _written_temporary(path, suffix)
    try:
        yield temporary
        _flush_to_disk(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    """`text` into `path`, all or nothing (replaced_atomically)."""
    with replaced_atomically(path) as temporary:
        temporary.write_text(text, newline="")


def _written_temporary(path: Path, suffix: str = ".tmp", text: str | None = None) -> Path:
    """A new temporary file beside `path` (holding `text`, flushed to the disk, when given)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    temporary = Path(name)
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(handle, "w", newline="") as stream:
            if text is not None:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _flush_to_disk(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def write_texts_together(folder: Path, texts: dict[str, str]) -> None:
    """Replace several files of `folder` as one: afterwards all are new, or, if anything failed,
    all are as they were (or absent, as they were).

    Every new file is written in full first; only then are they renamed into place, each old one
    kept under a temporary name until all are, and put back if a rename fails.
    """
    temporaries: dict[str, Path] = {}
    previous: dict[str, Path] = {}
    placed: list[str] = []
    try:
        for name, text in texts.items():
            temporaries[name] = _written_temporary(folder / name, text=text)
        for name in texts:
            if (folder / name).exists():
                previous[name] = _kept_copy(folder / name)
        for name in texts:
            os.replace(temporaries[name], folder / name)
            placed.append(name)
    except BaseException:
        for name in placed:  # put back what was there before
            if name in previous:
                os.replace(previous[name], folder / name)
            else:
                (folder / name).unlink(missing_ok=True)
        raise
    finally:
        for leftover in [*temporaries.values(), *previous.values()]:
            Path(leftover).unlink(missing_ok=True)


def _kept_copy(path: Path) -> Path:
    """A second name for `path` (a hard link: no space needed; a copy where links are not allowed)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".previous")
    os.close(handle)
    kept = Path(name)
    kept.unlink()
    try:
        os.link(path, kept)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        shutil.copyfile(path, kept)
    return kept


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
