"""server/tensors.py in process: BYTES contents round-trip, output columns become tensors."""

from __future__ import annotations

import numpy as np
import pytest

from leapserve.runtime.errors import InvalidInput
from leapserve.runtime.types import scalar, vector
from leapserve.runtime.vectors import SparseVector
from leapserve.server import tensors


def test_bytes_tensors_round_trip():
    items = [b"", b"abc", "ü".encode(), b"x" * 300]
    raw = tensors.serialize_bytes(items)
    assert tensors.deserialize_bytes(raw, 4, "t") == items
    with pytest.raises(InvalidInput):
        tensors.deserialize_bytes(raw, 5, "t")
    with pytest.raises(InvalidInput):
        tensors.deserialize_bytes(raw + b"\x00", 4, "t")


def test_output_tensors():
    dt, shape, data = tensors.output_tensor(scalar("double"), np.array([1.0, 2.0, 3.0]), 3, np.array([False, True, False]))
    assert dt == "FP64" and shape == [3] and np.isnan(data[1]) and data[0] == 1.0
    dt, shape, data = tensors.output_tensor(scalar("string"), np.array(["a", None], dtype=object), 2, None)
    assert dt == "BYTES" and data == [b"a", b""]
    dt, shape, data = tensors.output_tensor(vector(3), np.ones((2, 3)), 2, None)
    assert dt == "FP64" and shape == [2, 3]
    from leapserve.runtime.vectors import SparseBatch

    sb = SparseBatch.from_rows(3, [SparseVector(3, [1], [5.0]), [1.0, 0.0, 0.0]])
    dt, shape, data = tensors.output_tensor(vector(3), sb, 2, None)
    assert shape == [2, 3] and data.tolist() == [[0.0, 5.0, 0.0], [1.0, 0.0, 0.0]]
