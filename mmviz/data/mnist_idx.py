"""Read MNIST's IDX files from a folder the user points to, checking every header field.

The IDX format is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the raw values. A download that was cut short or a
wrong file renamed is common, so each field is checked and reported in words rather than surfacing
as a reshape error deep inside numpy.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from mmviz.data.base import DataError

# type code -> big-endian numpy dtype
IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

HOW_TO_FIX = (
    "download MNIST's four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
    "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; gzipped .gz is fine) into it"
)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(
            f"file {path} cannot be read ({type(e).__name__}: {e}); {HOW_TO_FIX}"
        ) from e
    return raw


def read_idx(path: str | Path, expect_ndim: int | None = None, what: str = "IDX") -> np.ndarray:
    """Array stored in IDX file `path` (optionally gzipped), with its header validated."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        magic = raw[:4].hex() if raw else "empty file"
        raise DataError(
            f"file {path} is not an {what} file (magic {magic}, expected 0000 then a type code "
            f"and the number of dimensions); {HOW_TO_FIX}"
        )
    ndim = raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise DataError(
            f"file {path} is not an {what} file (magic {raw[:4].hex()}: {ndim} dimensions, "
            f"expected {expect_ndim}); {HOW_TO_FIX}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"file {path} is truncated inside its header; {HOW_TO_FIX}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"file {path} is {state}: header says {'x'.join(map(str, dims))} values "
            f"({expected} bytes) but the file has {len(raw)} bytes; {HOW_TO_FIX}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def find_file(folder: Path, stem: str) -> Path | None:
    """The file for `stem` in `folder`, accepting the common '.idx3' spelling and .gz."""
    alt = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_pair(folder: Path, images_stem: str, labels_stem: str) -> tuple[np.ndarray, np.ndarray]:
    paths = {}
    for stem in (images_stem, labels_stem):
        found = find_file(folder, stem)
        if found is None:
            raise DataError(f"folder {folder} lacks file {stem} (or {stem}.gz); {HOW_TO_FIX}")
        paths[stem] = found
    images = read_idx(paths[images_stem], expect_ndim=3, what="IDX image")
    labels = read_idx(paths[labels_stem], expect_ndim=1, what="IDX label")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(
            f"files in {folder} hold {images.dtype}/{labels.dtype} values, MNIST's are unsigned "
            f"bytes; {HOW_TO_FIX}"
        )
    if images.shape[1:] != (28, 28):
        raise DataError(
            f"file {paths[images_stem]} holds {images.shape[1]}x{images.shape[2]} images, "
            f"MNIST's are 28x28; {HOW_TO_FIX}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"file {paths[images_stem]} has {len(images)} images but {paths[labels_stem]} has "
            f"{len(labels)} labels; {HOW_TO_FIX}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(
            f"file {paths[labels_stem]} holds label {int(labels.max())}; digits are 0..9; "
            f"{HOW_TO_FIX}"
        )
    return images, labels.astype(np.int64)


def check_mnist_folder(folder: str | Path) -> None:
    """Raise DataError unless `folder` exists and holds the two training files."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist or is not a folder; {HOW_TO_FIX}")
    for key in ("train_images", "train_labels"):
        stem = MNIST_FILES[key]
        if find_file(folder, stem) is None:
            raise DataError(f"folder {folder} lacks file {stem} (or {stem}.gz); {HOW_TO_FIX}")


def load_mnist_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images (N, 28, 28) uint8 and labels (N,) int64: train files, plus t10k if present."""
    folder = Path(folder).expanduser()
    check_mnist_folder(folder)
    images, labels = _load_pair(folder, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    has_test = [find_file(folder, MNIST_FILES[k]) for k in ("test_images", "test_labels")]
    if any(has_test):
        test_images, test_labels = _load_pair(
            folder, MNIST_FILES["test_images"], MNIST_FILES["test_labels"]
        )
        images = np.concatenate([images, test_images])
        labels = np.concatenate([labels, test_labels])
    return images, labels


def folder_fingerprint(folder: str | Path) -> str:
    """Content hash of the MNIST files in `folder`, so the dataset version follows the data."""
    folder = Path(folder).expanduser()
    h = hashlib.sha256()
    for stem in MNIST_FILES.values():
        found = find_file(folder, stem) if folder.is_dir() else None
        if found is not None:
            h.update(found.name.encode())
            with open(found, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]
