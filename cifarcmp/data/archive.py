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
"""

from __future__ import annotations

import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cifarcmp.errors import UserError

PYTHON_FOLDER = "cifar-10-batches-py"
BINARY_FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_BYTES = 32 * 32 * 3
RECORD_BYTES = 1 + IMAGE_BYTES

_ALLOWED_PICKLE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
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
    else:
        raise UserError(f"{path}: no such file or folder")
    names = set(members)
    if all(f"{PYTHON_FOLDER}/{name}" in names for name in (*TRAIN_BATCHES, TEST_BATCH)):
        return _parse_python(path, members)
    if all(f"{BINARY_FOLDER}/{name}.bin" in names for name in (*TRAIN_BATCHES, TEST_BATCH)):
        return _parse_binary(path, members)
    raise UserError(
        f"{path}: not a CIFAR-10 release (expected {PYTHON_FOLDER}/ or {BINARY_FOLDER}/ "
        "with data_batch_1..5 and test_batch)"
    )


def _folder_members(folder: Path) -> dict[str, callable]:
    """Map 'cifar-10-batches-*/name' to a reader, for the folder itself or its parent."""
    candidates = [folder] + [child for child in folder.iterdir() if child.is_dir()]
    members = {}
    for candidate in candidates:
        if candidate.name in (PYTHON_FOLDER, BINARY_FOLDER):
            for file in candidate.iterdir():
                if file.is_file():
                    members[f"{candidate.name}/{file.name}"] = file.read_bytes
    return members


def _archive_members(archive: Path) -> dict[str, callable]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            contents = {}
            for member in tar:
                if member.isfile():
                    name = member.name.removeprefix("./")
                    contents[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise UserError(
            f"{archive}: unreadable archive ({error}); it is truncated or corrupt, download it again"
        ) from None
    return {name: (lambda data=data: data) for name, data in contents.items()}


def _unpickle(source: Path, name: str, data: bytes) -> dict:
    try:
        loaded = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise UserError(f"{source}: {name} is not a plain CIFAR-10 batch ({error}); refusing to read it") from None
    except Exception as error:  # truncated or garbled pickles raise many kinds
        raise UserError(f"{source}: {name} is corrupt ({type(error).__name__}: {error})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{source}: {name} does not hold a CIFAR-10 batch dictionary")
    return {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def _parse_python(source: Path, members: dict) -> Arrays:
    def batch(name):
        content = _unpickle(source, name, members[f"{PYTHON_FOLDER}/{name}"]())
        try:
            data = np.asarray(content["data"], dtype=np.uint8)
            labels = np.asarray(content["labels"], dtype=np.int64)
            images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        except (KeyError, ValueError) as error:
            raise UserError(f"{source}: {name} has no usable data/labels ({error})") from None
        if len(images) != len(labels):
            raise UserError(f"{source}: {name} holds {len(images)} images but {len(labels)} labels")
        return images, labels

    x_train, y_train = zip(*(batch(name) for name in TRAIN_BATCHES))
    x_test, y_test = batch(TEST_BATCH)
    class_names = [f"class {index}" for index in range(10)]
    meta_name = f"{PYTHON_FOLDER}/batches.meta"
    if meta_name in members:
        meta = _unpickle(source, "batches.meta", members[meta_name]())
        class_names = [name.decode("utf8") if isinstance(name, bytes) else str(name) for name in meta["label_names"]]
    return _checked(source, np.concatenate(x_train), np.concatenate(y_train), x_test, y_test, class_names, "python")


def _parse_binary(source: Path, members: dict) -> Arrays:
    def batch(name):
        raw = np.frombuffer(members[f"{BINARY_FOLDER}/{name}.bin"](), dtype=np.uint8)
        if raw.size == 0 or raw.size % RECORD_BYTES:
            raise UserError(f"{source}: {name}.bin is truncated ({raw.size} bytes, not a multiple of {RECORD_BYTES})")
        records = raw.reshape(-1, RECORD_BYTES)
        images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, records[:, 0].astype(np.int64)

    x_train, y_train = zip(*(batch(name) for name in TRAIN_BATCHES))
    x_test, y_test = batch(TEST_BATCH)
    class_names = [f"class {index}" for index in range(10)]
    meta_name = f"{BINARY_FOLDER}/batches.meta.txt"
    if meta_name in members:
        lines = [line.strip() for line in members[meta_name]().decode("utf8").splitlines()]
        class_names = [line for line in lines if line][:10]
    return _checked(source, np.concatenate(x_train), np.concatenate(y_train), x_test, y_test, class_names, "binary")


def _checked(source, x_train, y_train, x_test, y_test, class_names, layout) -> Arrays:
    for labels in (y_train, y_test):
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise UserError(f"{source}: labels outside 0..9; this is not CIFAR-10")
    if len(class_names) != 10:
        raise UserError(f"{source}: the batch metadata names {len(class_names)} classes, not 10")
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
        with tarfile.open(path, "w:gz", compresslevel=1) as tar:
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
        files[f"{PYTHON_FOLDER}/batches.meta"] = pickle.dumps(meta, protocol=3)
    else:
        files[f"{BINARY_FOLDER}/batches.meta.txt"] = ("\n".join(arrays.class_names) + "\n").encode()
    return files
