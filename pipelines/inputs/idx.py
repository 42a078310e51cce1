"""A parser for the IDX format of the MNIST files.

An IDX file starts with a 4-byte magic number: two zero bytes, a type code and the
number of dimensions. Then comes one big-endian uint32 per dimension, then the values
in C order, big-endian. MNIST's images have magic 2051 (uint8, 3 dimensions) and its
labels 2049 (uint8, 1 dimension).
"""

from __future__ import annotations

import math
import struct

import numpy as np

from pipelines.errors import DataValidationError

__all__ = ["IDX_DTYPES", "parse_idx"]

# Type code -> big-endian dtype, as defined by the format.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Decodes the bytes of an (uncompressed) IDX file into an array.

    Args:
        data: The whole file's bytes.

    Returns:
        A writable array in native byte order with the header's shape and type, e.g.
        uint8 `(n, 28, 28)` for MNIST images and uint8 `(n,)` for labels.

    Raises:
        DataValidationError: if the magic number is not an IDX one, or the header or
            payload is shorter or longer than the header says.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4]))
        array([5, 0, 4], dtype=uint8)
    """
    view = memoryview(data).cast("B")
    if len(view) < 4:
        raise DataValidationError(f"IDX data is too short for its 4-byte magic number. Received: {len(view)} bytes")
    magic = int.from_bytes(view[:4], "big")
    code, ndim = view[2], view[3]
    if view[0] or view[1] or code not in IDX_DTYPES or ndim == 0:
        codes = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise DataValidationError(
            "Not IDX data: expected a magic number 0x0000TTNN with type code TT in "
            f"{{{codes}}} and NN >= 1 dimensions (2051 for images, 2049 for labels). "
            f"Received: magic={magic} (0x{magic:08x}). Is the file still compressed?"
        )
    header_bytes = 4 + 4 * ndim
    if len(view) < header_bytes:
        raise DataValidationError(
            f"IDX data is truncated: its header needs {header_bytes} bytes for {ndim} "
            f"dimensions. Received: {len(view)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", view[4:header_bytes])
    dtype = IDX_DTYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    received = len(view) - header_bytes
    if received != expected:
        problem = "truncated" if received < expected else "longer than its header says"
        raise DataValidationError(
            f"IDX payload is {problem}: shape {shape} of {dtype.name} needs {expected} "
            f"bytes after the {header_bytes}-byte header. Received: {received} bytes"
        )
    values = np.frombuffer(view, dtype=dtype, count=count, offset=header_bytes)
    # A copy: writable, and in native byte order for the multi-byte types.
    return values.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
