"""Hostile and malformed inputs to the CIFAR-10 loader: one clear line each, and bounded memory.

Every case must end in a UserError whose message names the file and has no newline (the CLI
prints it as its one error line), never a traceback, and must be refused before anything larger
than CIFAR-10 needs is allocated.
"""

from __future__ import annotations

import gzip
import io
import pickle
import resource
import struct
import tarfile
import zipfile

import numpy as np
import pytest

from cifarcmp.data import archive as cifar_archive
from cifarcmp.data import source as data
from cifarcmp.data import synthetic
from cifarcmp.errors import UserError

PYTHON = cifar_archive.PYTHON_FOLDER
BINARY = cifar_archive.BINARY_FOLDER
MEGABYTE = 1 << 20


@pytest.fixture(scope="module")
def arrays():
    return synthetic.generate(50, 20)


def release(tmp_path, arrays, layout="python", changes=None, packed=True):
    """`arrays` in `layout`, as a .tar.gz or a folder, with members replaced by `changes` (name: bytes)."""
    files = cifar_archive._layout_files(arrays, layout)
    folder = PYTHON if layout == "python" else BINARY
    files.update({f"{folder}/{name}": content for name, content in (changes or {}).items()})
    if not packed:
        target = tmp_path / "extracted"
        for name, content in files.items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(content)
        return target
    target = tmp_path / "cifar.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return target


def refusal(path, *fragments) -> str:
    """The one line `data.load(path)` refuses `path` with; it names the file and each fragment."""
    with pytest.raises(UserError) as caught:
        data.load(str(path))
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def batch_pickle(arrays, **fields) -> bytes:
    """data_batch_1 of `arrays` with some of its fields replaced."""
    content = pickle.loads(cifar_archive._layout_files(arrays, "python")[f"{PYTHON}/data_batch_1"])
    content.update({name.encode(): value for name, value in fields.items()})
    return pickle.dumps(content, protocol=3)


def meta_pickle(**fields) -> bytes:
    return pickle.dumps({name.encode(): value for name, value in fields.items()}, protocol=3)


def peak_memory_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


NAMES = [name.encode() for name in synthetic.CLASS_NAMES]
BAD_PYTHON_META = {
    "no label_names": meta_pickle(num_vis=3072),
    "label_names=5": meta_pickle(label_names=5),
    "non-UTF-8 name": meta_pickle(label_names=[b"\xff\xfe"] + NAMES[1:]),
    "nine names": meta_pickle(label_names=NAMES[:9]),
    "a name that is a number": meta_pickle(label_names=[7] + NAMES[1:]),
    "markup": meta_pickle(label_names=[b"<script>alert(1)</script>"] + NAMES[1:]),
    "a quote": meta_pickle(label_names=[b'cat" onload="x'] + NAMES[1:]),
    "a long name": meta_pickle(label_names=[b"x" * 33] + NAMES[1:]),
    "a newline": meta_pickle(label_names=[b"cat\ndog"] + NAMES[1:]),
    "an empty name": meta_pickle(label_names=[b""] + NAMES[1:]),
    "an attribute list": meta_pickle(label_names=[b"cat {: onclick=alert(3) }"] + NAMES[1:]),
    "a spreadsheet formula": meta_pickle(label_names=[b"=1+1"] + NAMES[1:]),
    "a negative-looking formula": meta_pickle(label_names=[b"-1+1"] + NAMES[1:]),
    "mathtext": meta_pickle(label_names=[b"$\\foo{$"] + NAMES[1:]),
    "a Jinja expression": meta_pickle(label_names=[b"{{ 7*7 }}"] + NAMES[1:]),
    "a right-to-left override": meta_pickle(label_names=["cat\u202e".encode()] + NAMES[1:]),
}
BAD_BINARY_META = {
    "non-UTF-8": b"\xff\xfe\n" + b"\n".join(NAMES[1:]),
    "eleven names": b"\n".join(NAMES + [b"extra"]),
    "a backtick": b"\n".join([b"`rm`"] + NAMES[1:]),
    "a pipe": b"\n".join([b"a|b"] + NAMES[1:]),
    "a hyperlink formula": b"\n".join([b'=HYPERLINK("http://x")'] + NAMES[1:]),
    "an at sign": b"\n".join([b"@SUM(1+1)"] + NAMES[1:]),
}


@pytest.mark.parametrize("packed", [True, False], ids=["archive", "folder"])
@pytest.mark.parametrize("case", BAD_PYTHON_META)
def test_python_class_names_must_be_ten_short_plain_names(tmp_path, arrays, case, packed):
    path = release(tmp_path, arrays, "python", {"batches.meta": BAD_PYTHON_META[case]}, packed)
    refusal(path, "batches.meta")


@pytest.mark.parametrize("packed", [True, False], ids=["archive", "folder"])
@pytest.mark.parametrize("case", BAD_BINARY_META)
def test_binary_class_names_must_be_ten_short_plain_names(tmp_path, arrays, case, packed):
    path = release(tmp_path, arrays, "binary", {"batches.meta.txt": BAD_BINARY_META[case]}, packed)
    refusal(path, "batches.meta.txt")


@pytest.mark.parametrize(
    "fields",
    [
        {"labels": None},
        {"data": None},
        {"labels": "0123456789"},
        {"labels": np.zeros((10, 1), dtype=np.int64)},
        {"labels": [10**30] * 10},
        {"labels": [-1] * 10},
        {"labels": [10] * 10},
        {"labels": [[0]] * 10},
        {"labels": np.full(10, 10, dtype=np.int64)},
    ],
    ids=["labels None", "data None", "labels text", "labels N x 1", "10**30", "-1", "10", "nested", "array of 10"],
)
def test_missing_or_impossible_labels_are_refused(tmp_path, arrays, fields):
    path = release(tmp_path, arrays, "python", {"data_batch_1": batch_pickle(arrays, **fields)})
    refusal(path, "data_batch_1")


def test_binary_label_byte_outside_the_classes_is_refused(tmp_path, arrays):
    records = bytearray(cifar_archive._layout_files(arrays, "binary")[f"{BINARY}/test_batch.bin"])
    records[0] = 200
    refusal(release(tmp_path, arrays, "binary", {"test_batch.bin": bytes(records)}), "test_batch.bin", "0..9")


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((10, 3072), 1000.5),
        np.full((10, 3072), 1000, dtype=np.int64),
        np.full((10, 3072), 7, dtype=np.int16),
        np.zeros((10, 32, 32, 3), dtype=np.uint8),
        np.zeros(10 * 3072, dtype=np.uint8),
        [[0] * 3072] * 10,
    ],
    ids=["float 1000.5", "int64 1000", "int16", "N x 32 x 32 x 3", "flat", "a list"],
)
def test_pixels_that_are_not_uint8_rows_are_refused(tmp_path, arrays, pixels):
    path = release(tmp_path, arrays, "python", {"data_batch_1": batch_pickle(arrays, data=pixels)})
    refusal(path, "data_batch_1")


def test_pixels_are_not_silently_wrapped(tmp_path, arrays):
    path = release(tmp_path, arrays, "python", {"data_batch_1": batch_pickle(arrays, data=np.full((10, 3072), 256))})
    message = refusal(path, "data_batch_1")
    assert "int64" in message or "integer" in message


def gzipped_tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    """A .tar.gz whose first member claims `size` bytes, without writing them."""
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, link
    return gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))


def test_oversized_members_are_refused_before_reading(tmp_path, arrays):
    before = peak_memory_bytes()
    claims_three_gigabytes = tmp_path / "claims.tar.gz"
    claims_three_gigabytes.write_bytes(gzipped_tar_header("junk", 3 << 30))
    refusal(claims_three_gigabytes, "junk", "larger than any CIFAR-10 file")
    junk = tmp_path / "junk"  # a real member, 41 MB of zeros, before the batches
    with tarfile.open(junk.with_suffix(".tar.gz"), "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo(f"{PYTHON}/data_batch_1")
        info.size = 41_000_000
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    refusal(junk.with_suffix(".tar.gz"), "data_batch_1", "larger than any CIFAR-10 file")
    folder = release(tmp_path, arrays, "python", packed=False)
    with open(folder / PYTHON / "data_batch_2", "wb") as sparse:
        sparse.truncate(3 << 30)  # a sparse file: 3 GiB on paper, no disk used
    refusal(folder, "data_batch_2", "larger than any CIFAR-10 file")
    assert peak_memory_bytes() - before < 200 * MEGABYTE


@pytest.mark.parametrize(
    "kind, link", [(tarfile.SYMTYPE, "/etc/passwd"), (tarfile.LNKTYPE, "other"), (tarfile.CHRTYPE, "")]
)
def test_links_and_devices_in_an_archive_are_refused(tmp_path, kind, link):
    path = tmp_path / "links.tar.gz"
    path.write_bytes(gzipped_tar_header(f"{PYTHON}/data_batch_1", 0, kind, link))
    refusal(path, "data_batch_1", "link or special file")


class _Reduces:
    """Pickles as whatever `__reduce__` says: here, calls numpy's own array rebuilders."""

    def __init__(self, *reduction):
        self.reduction = reduction

    def __reduce__(self):
        return self.reduction


_RECONSTRUCT = cifar_archive._numpy_reconstruct
HUGE = (600_000, 3072)
PICKLE_BOMBS = {
    "reconstruct a huge shape": _Reduces(_RECONSTRUCT, (np.ndarray, HUGE, b"B")),
    "set a huge state": _Reduces(_RECONSTRUCT, (np.ndarray, (0,), b"B"), (1, HUGE, np.dtype("u1"), False, b"")),
    "call ndarray directly": _Reduces(np.ndarray, (HUGE,)),
    "a huge subarray dtype": _Reduces(_RECONSTRUCT, (np.ndarray, (1,), np.dtype(("u1", HUGE)))),
    "an object array": _Reduces(_RECONSTRUCT, (np.ndarray, (10,), np.dtype(object))),
    "one image too many": np.zeros((10_001, 3072), dtype=np.uint8),
}


@pytest.mark.parametrize("case", PICKLE_BOMBS)
def test_pickled_arrays_are_bounded_before_allocation(tmp_path, arrays, case):
    bomb = pickle.dumps({b"data": PICKLE_BOMBS[case], b"labels": [0]}, protocol=3)
    path = release(tmp_path, arrays, "python", {"data_batch_3": bomb})
    before = peak_memory_bytes()
    refusal(path, "data_batch_3", "refusing")
    assert peak_memory_bytes() - before < 200 * MEGABYTE


def test_a_flood_of_pickle_opcodes_is_refused(tmp_path, arrays):
    # 40 MB of EMPTY_SET would build 40 million sets, about 9 GB, from a file the size of a batch.
    flood = b"\x80\x04(" + b"\x8f" * 1_000_000 + b"l."
    path = release(tmp_path, arrays, "python", {"data_batch_1": flood})
    before = peak_memory_bytes()
    refusal(path, "data_batch_1", "opcodes")
    assert peak_memory_bytes() - before < 200 * MEGABYTE


def zip_file(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cifar-10-batches-py/data_batch_1", b"not a batch")


@pytest.mark.parametrize(
    "write",
    [
        lambda path: path.write_bytes(b""),
        lambda path: path.write_bytes(np.random.default_rng(0).bytes(4096)),
        lambda path: path.write_text("airplane\nautomobile\nbird\n" * 100),
        zip_file,
    ],
    ids=["empty", "random", "text", "zip"],
)
def test_files_that_are_no_archive_get_one_line(tmp_path, write):
    path = tmp_path / "cifar-10-python.tar.gz"
    write(path)
    message = refusal(path)
    assert message == f"{path}: {cifar_archive.NOT_AN_ARCHIVE}"


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    path = tmp_path / "two\nlines.tar.gz"
    path.write_bytes(b"")
    with pytest.raises(UserError) as caught:
        data.load(str(path))
    assert "\n" not in str(caught.value) and "two\\nlines.tar.gz" in str(caught.value)


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_a_batch_larger_than_cifar10s_is_refused(tmp_path, arrays, layout):
    images = np.zeros((10_001, 32, 32, 3), dtype=np.uint8)
    larger = cifar_archive.Arrays(
        arrays.x_train, arrays.y_train, images, np.zeros(10_001, dtype=np.int64), arrays.class_names, layout
    )
    path = release(tmp_path, larger, layout)
    refusal(path, "test_batch", "CIFAR-10 batch")


def test_data_and_labels_of_different_lengths_are_refused(tmp_path, arrays):
    path = release(tmp_path, arrays, "python", {"data_batch_4": batch_pickle(arrays, labels=[0] * 9)})
    refusal(path, "data_batch_4", "10 images but 9 labels")


def test_a_binary_batch_cut_mid_record_is_refused(tmp_path, arrays):
    records = cifar_archive._layout_files(arrays, "binary")[f"{BINARY}/data_batch_5.bin"]
    refusal(release(tmp_path, arrays, "binary", {"data_batch_5.bin": records[:-1]}, packed=False), "data_batch_5.bin")


@pytest.mark.parametrize("packed", [True, False], ids=["archive", "folder"])
@pytest.mark.parametrize("layout", ["python", "binary"])
def test_the_unchanged_release_reads(tmp_path, arrays, layout, packed):
    """So that each refusal above is the change's doing, not the helper's."""
    read = data.load(str(release(tmp_path, arrays, layout, packed=packed)))
    assert read.class_names == arrays.class_names and len(read.x_train) == 50 and len(read.x_test) == 20


def python2_batch(images: np.ndarray, labels) -> bytes:
    """A batch as the official release's Python 2 cPickle (protocol 2) wrote it, opcode by opcode:
    byte strings as BINSTRING, the array rebuilt by numpy.core.multiarray._reconstruct and BUILD."""
    rows, columns = images.shape
    raw = images.tobytes()
    array = b"".join(
        [
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R",
            b"(K\x01M" + struct.pack("<H", rows) + b"M" + struct.pack("<H", columns) + b"\x86",
            b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",
            b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb",
        ]
    )
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(U\x04data" + array + b"U\x06labels" + label_list + b"u."


def test_python2_batches_as_the_official_release_writes_them_still_read(tmp_path, arrays):
    images = arrays.x_test.transpose(0, 3, 1, 2).reshape(len(arrays.x_test), 3072)
    batch = python2_batch(np.ascontiguousarray(images), [int(label) for label in arrays.y_test])
    read = data.load(str(release(tmp_path, arrays, "python", {"test_batch": batch})))
    np.testing.assert_array_equal(read.x_test, arrays.x_test)
    np.testing.assert_array_equal(read.y_test, arrays.y_test)
