"""Reading and writing the two layouts of the official CIFAR-10 release.

- python: `cifar-10-batches-py/` with `data_batch_1..5`, `test_batch` and `batches.meta`,
  each a pickled dict (bytes keys, `b"data"` a uint8 array N x 3072 in channel-major order).
- binary: `cifar-10-batches-bin/` with `data_batch_1..5.bin` and `test_batch.bin`, records of
  1 label byte + 3072 image bytes, and `batches.meta.txt` with one class name per line.

Either may sit in a `.tar.gz` or be extracted in a folder. Archives are read member by member in
memory; nothing is extracted to disk, so a crafted archive cannot write outside its folder.

Pickles are read through a restricted unpickler that resolves only the globals needed to rebuild a
numpy array (the same allow-list as Keras' own CIFAR loader), whether or not the file is the
official one: a crafted pickle fails with an error instead of running code.

Whatever the input, it is refused with one line (a UserError naming the file and the problem) and
memory stays bounded by what CIFAR-10 itself needs: every file read, every array a pickle
rebuilds, every count and every class name is checked against the release's own sizes first.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
import pickletools
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp.errors import UserError
from cifarcmp.text import class_name_problem

try:  # numpy 2 moved the array-rebuilding function that pickles name; 1.26 still has it in core
    from numpy._core.multiarray import _reconstruct as _numpy_reconstruct
except ImportError:  # pragma: no cover - numpy 1.26
    from numpy.core.multiarray import _reconstruct as _numpy_reconstruct

PYTHON_FOLDER = "cifar-10-batches-py"
BINARY_FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
PYTHON_META = "batches.meta"
BINARY_META = "batches.meta.txt"
IMAGE_BYTES = 32 * 32 * 3
RECORD_BYTES = 1 + IMAGE_BYTES

# The release's own sizes: anything larger is not CIFAR-10 and is refused before it is read.
CLASSES = 10
BATCH_IMAGES = 10_000
# The largest file is a python batch pickle (about 31 MB; a binary batch is 30,730,000 bytes).
MAX_MEMBER_BYTES = 40_000_000
# The official archives hold 8 or 9 entries (a folder, the batches, the metadata, a readme).
MAX_ARCHIVE_ENTRIES = 100
# The largest array a batch pickle holds: 10,000 images of 3,072 bytes.
MAX_ARRAY_BYTES = BATCH_IMAGES * IMAGE_BYTES
# An official batch pickle is about 40,000 opcodes (10,000 labels, 10,000 memoised file names).
# Opcodes such as EMPTY_SET build a 200-byte object from one byte, so the count bounds memory too.
MAX_PICKLE_OPCODES = 200_000
NOT_AN_ARCHIVE = (
    "not a CIFAR-10 archive (expected cifar-10-python.tar.gz or cifar-10-binary.tar.gz, or their extracted folder)"
)


def _refuse(source, problem: str) -> UserError:
    """The one-line error for a bad input: control characters (in a file name, say) are escaped."""
    message = f"{source}: {problem}"
    return UserError("".join(character if character.isprintable() else ascii(character)[1:-1] for character in message))


# numpy rebuilds a pickled array in two steps, each sized by the pickle itself:
# `_reconstruct(ndarray, shape, dtype)` allocates an uninitialised array of that shape, then the
# BUILD opcode calls its `__setstate__((version, shape, dtype, is_fortran, raw_bytes))`, which
# takes a shape and dtype of its own. So a 148-byte pickle can ask for gigabytes. The allow-list
# therefore hands the unpickler stand-ins that check each requested shape and dtype against a
# CIFAR-10 batch first (integers only, at most 10,000 x 3072 bytes), and only then call numpy.


def _check_array_request(shape, dtype) -> None:
    if not isinstance(shape, tuple) or not all(type(side) is int and side >= 0 for side in shape):
        raise pickle.UnpicklingError(f"malformed numpy array shape {shape!r:.40}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize > 8:
        raise pickle.UnpicklingError(f"refusing a numpy array of {dtype}; CIFAR-10 holds only integer arrays")
    if math.prod(shape) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise pickle.UnpicklingError(f"refusing a numpy array of shape {shape}, larger than a CIFAR-10 batch")


class _PickledArray(np.ndarray):
    """What `numpy.ndarray` resolves to in a pickle: rebuilt only through the checks above."""

    def __new__(cls, *arguments, **keywords):
        # A pickle could call numpy.ndarray(shape) directly; official ones never do.
        raise pickle.UnpicklingError("refusing to call numpy.ndarray directly")

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("malformed numpy array state")
        shape, dtype = state[-4], state[-3]
        _check_array_request(shape, dtype)
        super().__setstate__(state)


def _checked_reconstruct(subtype, shape, dtype):
    if subtype is not _PickledArray:
        raise pickle.UnpicklingError("refusing to rebuild anything but a numpy array")
    _check_array_request(shape, dtype)
    return _numpy_reconstruct(_PickledArray, shape, dtype)


_ALLOWED_PICKLE_GLOBALS = {
    ("numpy", "ndarray"): _PickledArray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return _ALLOWED_PICKLE_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


@dataclass
class Arrays:
    """CIFAR-10 as uint8 images (N x 32 x 32 x 3, channels last) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    layout: str  # "python" or "binary"


def read(path: Path) -> Arrays:
    """Read an archive or an extracted folder in either official layout."""
    path = Path(path)
    if path.is_dir():
        members = _folder_members(path)
    elif path.is_file():
        members = _archive_members(path)
    elif path.exists():
        raise _refuse(path, "not a regular file or folder")
    else:
        raise _refuse(path, "no such file or folder")
    names = set(members)
    if all(f"{PYTHON_FOLDER}/{name}" in names for name in (*TRAIN_BATCHES, TEST_BATCH)):
        return _parse_python(path, members)
    if all(f"{BINARY_FOLDER}/{name}.bin" in names for name in (*TRAIN_BATCHES, TEST_BATCH)):
        return _parse_binary(path, members)
    raise _refuse(
        path,
        f"not a CIFAR-10 release (expected {PYTHON_FOLDER}/ or {BINARY_FOLDER}/ with data_batch_1..5 and test_batch)",
    )


def _folder_members(folder: Path) -> dict[str, callable]:
    """Map 'cifar-10-batches-*/name' to a reader, for the folder itself or its parent."""
    candidates = [folder] + [child for child in folder.iterdir() if child.is_dir()]
    members = {}
    for candidate in candidates:
        if candidate.name in (PYTHON_FOLDER, BINARY_FOLDER):
            for file in candidate.iterdir():
                if file.is_file():  # follows links: a folder of links to a shared copy is fine
                    members[f"{candidate.name}/{file.name}"] = lambda file=file: _read_file(folder, file)
    return members


def _read_file(folder: Path, file: Path) -> bytes:
    name = file.relative_to(folder)
    _check_member_size(folder, name, file.stat().st_size)
    with open(file, "rb") as handle:
        return _read_bounded(folder, name, handle)


def _check_member_size(source, name, size: int) -> None:
    if size > MAX_MEMBER_BYTES:
        raise _refuse(source, f"{name} is {size:,} bytes, larger than any CIFAR-10 file ({MAX_MEMBER_BYTES:,} at most)")


def _read_bounded(source, name, handle) -> bytes:
    """At most one byte past the limit, so a file that grows or lies about its size is still caught."""
    content = handle.read(MAX_MEMBER_BYTES + 1)
    _check_member_size(source, name, len(content))
    return content


def _wanted_members() -> frozenset[str]:
    batches = (*TRAIN_BATCHES, TEST_BATCH)
    python = [f"{PYTHON_FOLDER}/{name}" for name in (*batches, PYTHON_META)]
    binary = [f"{BINARY_FOLDER}/{name}.bin" for name in batches] + [f"{BINARY_FOLDER}/{BINARY_META}"]
    return frozenset(python + binary)


def _archive_members(archive: Path) -> dict[str, callable]:
    # Opened apart from the reading so that a file that is no archive at all (empty, text, zip)
    # gets its own line; tarfile's message for it lists every compression it tried, one per line.
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by `with tar` below
    except (tarfile.TarError, EOFError, OSError, ValueError):
        raise _refuse(archive, NOT_AN_ARCHIVE) from None
    try:
        with tar:
            contents = _read_archive_members(archive, tar)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise _refuse(archive, f"unreadable archive ({error}); it is truncated or corrupt, download it again") from None
    return {name: (lambda data=data: data) for name, data in contents.items()}


def _read_archive_members(archive: Path, tar: tarfile.TarFile) -> dict[str, bytes]:
    """The CIFAR-10 files of an open archive; every entry is checked before it is read or skipped."""
    wanted = _wanted_members()
    contents = {}
    for index, member in enumerate(tar):
        name = member.name.removeprefix("./")
        if index >= MAX_ARCHIVE_ENTRIES:
            raise _refuse(archive, f"holds more than {MAX_ARCHIVE_ENTRIES} entries; CIFAR-10 archives hold about 9")
        if member.isdir():
            continue
        if not member.isfile():  # links and devices: the official archives hold none
            raise _refuse(archive, f"{name} is a link or special file; CIFAR-10 archives hold only plain files")
        # Checked even for files that are not read: skipping a member still decompresses it.
        _check_member_size(archive, name, member.size)
        if name in wanted:
            contents[name] = _read_bounded(archive, name, tar.extractfile(member))
    return contents


def _unpickle(source: Path, name: str, data: bytes) -> dict:
    try:
        _check_opcode_count(data)
        loaded = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise _refuse(source, f"{name} is not a plain CIFAR-10 batch ({error}); refusing to read it") from None
    except Exception as error:  # truncated or garbled pickles raise many kinds
        raise _refuse(source, f"{name} is corrupt ({type(error).__name__}: {error})") from None
    if not isinstance(loaded, dict):
        raise _refuse(source, f"{name} does not hold a CIFAR-10 batch dictionary")
    return {_key(key): _plain(value) for key, value in loaded.items()}


def _check_opcode_count(data: bytes) -> None:
    for count, _ in enumerate(pickletools.genops(data)):
        if count >= MAX_PICKLE_OPCODES:
            raise pickle.UnpicklingError(f"more than {MAX_PICKLE_OPCODES:,} pickle opcodes, far more than a batch")


def _key(key):
    return key.decode("utf8", errors="replace") if isinstance(key, bytes) else key


def _plain(value):
    """A rebuilt array as a plain ndarray (a view, no copy); anything else as it is."""
    return np.asarray(value) if isinstance(value, _PickledArray) else value


def _parse_python(source: Path, members: dict) -> Arrays:
    x_train, y_train = zip(*(_python_batch(source, members, name) for name in TRAIN_BATCHES))
    x_test, y_test = _python_batch(source, members, TEST_BATCH)
    class_names = [f"class {index}" for index in range(CLASSES)]
    meta_name = f"{PYTHON_FOLDER}/{PYTHON_META}"
    if meta_name in members:
        meta = _unpickle(source, PYTHON_META, members[meta_name]())
        class_names = _python_class_names(source, meta.get("label_names"))
    return _checked(x_train, y_train, x_test, y_test, class_names, "python")


def _python_batch(source: Path, members: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    content = _unpickle(source, name, members[f"{PYTHON_FOLDER}/{name}"]())
    data = _pixel_array(source, name, content.get("data"))
    labels = _label_array(source, name, content.get("labels"))
    if len(data) != len(labels):
        raise _refuse(source, f"{name} holds {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _pixel_array(source: Path, name: str, data) -> np.ndarray:
    """The batch's `data`: uint8, N x 3072. Anything else would be silently wrapped or reshaped."""
    if not isinstance(data, np.ndarray):
        raise _refuse(source, f"{name} has no pixel array (data is {type(data).__name__})")
    if data.dtype != np.uint8:
        raise _refuse(source, f"{name} holds {data.dtype} pixels, not uint8 (0..255)")
    if data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise _refuse(source, f"{name} holds pixels of shape {data.shape}, not N x {IMAGE_BYTES}")
    _check_batch_count(source, name, len(data))
    return data


def _label_array(source: Path, name: str, labels) -> np.ndarray:
    """The batch's `labels`: a flat list (or 1-d integer array) of ints in 0..9, checked before conversion."""
    if isinstance(labels, np.ndarray):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise _refuse(
                source, f"{name} holds labels of shape {labels.shape} and type {labels.dtype}, not N integers"
            )
        in_range = labels.size == 0 or (labels.min() >= 0 and labels.max() < CLASSES)
    elif isinstance(labels, list | tuple):
        # Checked in Python: numpy would overflow on 10**30, or build a 2-d array from nested lists.
        in_range = all(isinstance(label, int) and 0 <= label < CLASSES for label in labels)
    else:
        raise _refuse(source, f"{name} has no label list (labels is {type(labels).__name__})")
    _check_batch_count(source, name, len(labels))
    if not in_range:
        raise _refuse(source, f"{name} holds labels that are not integers in 0..{CLASSES - 1}; this is not CIFAR-10")
    return np.asarray(labels, dtype=np.int64)


def _check_batch_count(source: Path, name: str, count: int) -> None:
    # Five training batches and one test batch of at most 10,000 images each also bound the
    # splits by CIFAR-10's 50,000 and 10,000.
    if count > BATCH_IMAGES:
        raise _refuse(source, f"{name} holds {count:,} images, more than a CIFAR-10 batch ({BATCH_IMAGES:,})")


def _python_class_names(source: Path, label_names) -> list[str]:
    where = f"{PYTHON_META} label_names"
    if not isinstance(label_names, list | tuple):
        raise _refuse(source, f"{where} is missing or not a list ({type(label_names).__name__})")
    if len(label_names) != CLASSES:
        raise _refuse(source, f"{where} names {len(label_names)} classes, not {CLASSES}")
    names = []
    for label_name in label_names:
        if isinstance(label_name, bytes):
            label_name = _decoded(source, where, label_name)
        if not isinstance(label_name, str):
            raise _refuse(source, f"{where} holds a value of type {type(label_name).__name__}, not a class name")
        names.append(label_name)
    return _checked_class_names(source, where, names)


def _decoded(source: Path, where: str, content: bytes) -> str:
    try:
        return content.decode("utf8")
    except UnicodeDecodeError:
        raise _refuse(source, f"{where} is not UTF-8 text") from None


def _checked_class_names(source: Path, where: str, names: list[str]) -> list[str]:
    """Exactly ten short printable names without markup: they are written into the published pages."""
    if len(names) != CLASSES:
        raise _refuse(source, f"{where} names {len(names)} classes, not {CLASSES}")
    for name in names:
        problem = class_name_problem(name)
        if problem:
            raise _refuse(source, f"{where}: a class name {problem}")
    return names


def _parse_binary(source: Path, members: dict) -> Arrays:
    x_train, y_train = zip(*(_binary_batch(source, members, name) for name in TRAIN_BATCHES))
    x_test, y_test = _binary_batch(source, members, TEST_BATCH)
    class_names = [f"class {index}" for index in range(CLASSES)]
    meta_name = f"{BINARY_FOLDER}/{BINARY_META}"
    if meta_name in members:
        lines = [line.strip() for line in _decoded(source, BINARY_META, members[meta_name]()).splitlines()]
        class_names = _checked_class_names(source, BINARY_META, [line for line in lines if line])
    return _checked(x_train, y_train, x_test, y_test, class_names, "binary")


def _binary_batch(source: Path, members: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(members[f"{BINARY_FOLDER}/{name}.bin"](), dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise _refuse(source, f"{name}.bin is truncated ({raw.size} bytes, not a multiple of {RECORD_BYTES})")
    _check_batch_count(source, f"{name}.bin", raw.size // RECORD_BYTES)
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= CLASSES:
        raise _refuse(source, f"{name}.bin holds labels outside 0..{CLASSES - 1}; this is not CIFAR-10")
    return records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _checked(x_train, y_train, x_test, y_test, class_names, layout) -> Arrays:
    """One contiguous array per split; every batch has been checked on its own already."""
    x_train, y_train = np.concatenate(x_train), np.concatenate(y_train)
    return Arrays(np.ascontiguousarray(x_train), y_train, np.ascontiguousarray(x_test), y_test, class_names, layout)


def write_archive(path: Path, arrays: Arrays, layout: str = "python") -> None:
    """Write `arrays` as a `.tar.gz` (or a folder, when `path` has no .tar.gz suffix) in a layout.

    Used for the synthetic data set and the tests: what it writes goes through the same parser
    as the official files. Pickles use protocol 3 (bytes stored natively, so the allow-list above
    suffices; the official files are Python 2 protocol-2 pickles, which read the same way).
    """
    files = _layout_files(arrays, layout)
    path = Path(path)
    if path.name.endswith(".tar.gz"):
        # Byte for byte the same archive wherever and whenever it is written (no time or file name
        # in the gzip header, every member dated 0): the synthetic data's sha256, which every run
        # records and `evaluate --predict` checks, is then the same on every machine.
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as compressed,
            tarfile.open(fileobj=compressed, mode="w") as tar,
        ):
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    else:
        for name, data in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_bytes(data)


def _layout_files(arrays: Arrays, layout: str) -> dict[str, bytes]:
    train_images = np.array_split(arrays.x_train, len(TRAIN_BATCHES))
    train_labels = np.array_split(arrays.y_train, len(TRAIN_BATCHES))
    batches = dict(zip(TRAIN_BATCHES, zip(train_images, train_labels)))
    batches[TEST_BATCH] = (arrays.x_test, arrays.y_test)
    files = {}
    for name, (images, labels) in batches.items():
        channel_major = images.transpose(0, 3, 1, 2).reshape(len(images), IMAGE_BYTES)
        if layout == "python":
            content = {
                b"batch_label": name.encode(),
                b"labels": [int(label) for label in labels],
                b"data": np.ascontiguousarray(channel_major, dtype=np.uint8),
                b"filenames": [f"{name}_{index:05d}.png".encode() for index in range(len(images))],
            }
            files[f"{PYTHON_FOLDER}/{name}"] = pickle.dumps(content, protocol=3)
        elif layout == "binary":
            records = np.concatenate([labels.astype(np.uint8)[:, None], channel_major], axis=1)
            files[f"{BINARY_FOLDER}/{name}.bin"] = records.astype(np.uint8).tobytes()
        else:
            raise ValueError(f"unknown layout {layout!r}")
    if layout == "python":
        meta = {
            b"label_names": [name.encode() for name in arrays.class_names],
            b"num_cases_per_batch": len(train_images[0]),
            b"num_vis": IMAGE_BYTES,
        }
        files[f"{PYTHON_FOLDER}/{PYTHON_META}"] = pickle.dumps(meta, protocol=3)
    else:
        files[f"{BINARY_FOLDER}/{BINARY_META}"] = ("\n".join(arrays.class_names) + "\n").encode()
    return files
