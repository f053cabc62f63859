"""How a copy of CIFAR-10 departs from the official release, in words a reader can check.

`--data PATH` reads any archive or folder in the release's layout without extracting a file, so
an archive that is not the release (members with absolute or `..` paths, bytes after the tar
stream, another compression, batches with no images or one class) is still read safely. It must
not pass as CIFAR-10: every departure found here goes into the run's manifest (`data.departures`)
and onto every page, as an unverified checksum does. An archive whose checksum matches the
official one has none, and is not inspected.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib
from pathlib import Path

import numpy as np

from cifarcmp.data import archive

# The official release: 50,000 training and 10,000 test images, the same number of every class.
OFFICIAL_IMAGES = {"training": 50_000, "test": 10_000}
# Compressions by their first bytes; the official archives are gzip.
MAGIC = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}
# Bytes after the tar stream read to count them, at most (the official archives pad with zeros
# to a 10,240-byte record).
TRAILING_READ_LIMIT = 1 << 20
# The manifest holds at most this many departures, each at most this long.
MAX_DEPARTURES = 20
MAX_DEPARTURE_CHARACTERS = 300


def departures(path: Path, arrays: archive.Arrays) -> list[str]:
    """Every way the copy at `path`, read as `arrays`, differs from the official release."""
    path = Path(path)
    if path.is_file():
        found = archive_departures(path, arrays.layout)
    else:
        found = folder_departures(path, arrays.layout)
    found += content_departures(arrays)
    if len(found) > MAX_DEPARTURES:
        found = found[: MAX_DEPARTURES - 1] + [f"and {len(found) - MAX_DEPARTURES + 1} more departures"]
    return [_printable(text) for text in found]


def release_members(layout: str) -> tuple[str, frozenset[str]]:
    """The folder of the release in `layout` and the files in it (its readme included)."""
    if layout == "python":
        names = (*archive.TRAIN_BATCHES, archive.TEST_BATCH, archive.PYTHON_META)
        folder = archive.PYTHON_FOLDER
    else:
        names = (*(f"{name}.bin" for name in (*archive.TRAIN_BATCHES, archive.TEST_BATCH)), archive.BINARY_META)
        folder = archive.BINARY_FOLDER
    return folder, frozenset(f"{folder}/{name}" for name in (*names, "readme.html"))


def _missing_metadata(layout: str, present: set[str]) -> list[str]:
    folder, _ = release_members(layout)
    meta = f"{folder}/{archive.PYTHON_META if layout == 'python' else archive.BINARY_META}"
    return [] if meta in present else [f"no {meta}, so the classes have no names"]


def folder_departures(folder: Path, layout: str) -> list[str]:
    """An extracted folder without the release's metadata (which names the classes)."""
    name, _ = release_members(layout)
    base = folder if folder.name == name else folder / name
    present = {f"{name}/{file.name}" for file in base.iterdir() if file.is_file()} if base.is_dir() else set()
    return _missing_metadata(layout, present)


def content_departures(arrays: archive.Arrays) -> list[str]:
    """Image counts that are not the release's: an empty batch, one class, a subset, a duplicate."""
    found = []
    for split, labels in (("training", arrays.y_train), ("test", arrays.y_test)):
        expected = OFFICIAL_IMAGES[split]
        counts = np.bincount(labels, minlength=archive.CLASSES)
        present = int(np.count_nonzero(counts))
        if len(labels) != expected or present != archive.CLASSES or counts.min() != counts.max():
            found.append(
                f"{len(labels):,} {split} images in {present} of {archive.CLASSES} classes "
                f"(the release has {expected:,}, {expected // archive.CLASSES:,} of each class)"
            )
    return found


def archive_departures(path: Path, layout: str = "python") -> list[str]:
    """What an archive file holds that the official one (of `layout`) does not: its compression,
    members outside the release (absolute or `..` paths, other files, the same name twice, the
    other layout's), missing metadata, bytes after the tar stream."""
    found = []
    with open(path, "rb") as handle:
        start = handle.read(8)
    compression = next((name for magic, name in MAGIC.items() if start.startswith(magic)), "no compression")
    if compression != "gzip":
        found.append(f"the archive is a tar file with {compression}, the release's is gzip-compressed")
    folder, expected = release_members(layout)
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # archive.read has bounded the number and size of members already
                name = member.name.removeprefix("./").rstrip("/")
                if name in seen:
                    found.append(f"member {member.name!r} appears more than once (the last one is read)")
                seen.add(name)
                found += _member_departures(member.name, folder, expected)
            found += _trailing_departures(tar)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        found.append(f"the archive is damaged after its last member ({error})")
    return found + _missing_metadata(layout, seen)


def _member_departures(name: str, folder: str, expected: frozenset[str]) -> list[str]:
    if name.startswith("/"):
        return [f"member {name!r} has an absolute path"]
    if ".." in Path(name).parts:
        return [f"member {name!r} has a path that climbs out of the archive with '..'"]
    plain = name.removeprefix("./").rstrip("/")
    if plain == folder or plain in expected:
        return []
    return [f"member {name!r}, which the release does not hold"]


def _trailing_departures(tar: tarfile.TarFile) -> list[str]:
    """Bytes after the end of the tar stream that are not its zero padding, and data after the
    compressed stream (which its decompressor reports when read to the end)."""
    stream = tar.fileobj
    nonzero, read = 0, 0
    try:
        stream.seek(tar.offset)
        while read < TRAILING_READ_LIMIT:
            chunk = stream.read(min(65536, TRAILING_READ_LIMIT - read))
            if not chunk:
                return [f"{nonzero:,} bytes that are not zeros follow the tar stream"] if nonzero else []
            read += len(chunk)
            nonzero += len(chunk) - chunk.count(0)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
        return [f"bytes that are not part of the compressed stream follow it ({error})"]
    return [f"more than {TRAILING_READ_LIMIT:,} bytes follow the tar stream"]


def _printable(text: str) -> str:
    """One printable line of bounded length: control characters (in a member's name) escaped."""
    text = "".join(character if character.isprintable() else ascii(character)[1:-1] for character in text)
    return text if len(text) <= MAX_DEPARTURE_CHARACTERS else text[: MAX_DEPARTURE_CHARACTERS - 3] + "..."
