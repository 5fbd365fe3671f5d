"""Helpers of the server tests: expected values, bundle copies.

Never import leapserve.oip in the test process: tritonclient brings its own copy of the
``inference`` protobuf package and both cannot live in one process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Training data: y = 1 + 2a - b exactly (v1) and y = 10 + a + b (v2), so predictions are known.
V1_ROWS = [(1.0, 2.0), (2.0, 0.0), (3.0, 1.0), (0.0, 0.0), (1.5, -2.0), (4.0, 3.0)]


def v1_expected(a: float, b: float) -> float:
    return 1.0 + 2.0 * a - b


def v2_expected(a: float, b: float) -> float:
    return 10.0 + a + b


def copy_bundle(src: Path, dst: Path) -> None:
    """Copy a bundle (zip or directory) to dst atomically (write beside, then rename)."""
    tmp = dst.with_name("." + dst.name + ".tmp")
    if src.is_dir():
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
        if dst.exists():
            shutil.rmtree(dst)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def has_ops(*names: str) -> bool:
    from leapserve.runtime import supported_ops

    return set(names) <= set(supported_ops())
