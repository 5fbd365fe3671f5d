"""MLeap's message and stub modules, made by protoc of the service's .proto at test time, as a client
would make them (into a folder of the caller's, under another file name): never taken from
leapserve.mleap, whose messages have the same names and cannot live in the same process."""

from __future__ import annotations

import importlib
import shutil
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def generate(out: Path) -> types.SimpleNamespace:
    """pb (the messages) and grpc (MleapStub) generated into ``out``."""
    import grpc_tools
    from grpc_tools import protoc

    shutil.copy(REPO / "protos" / "leapserve" / "mleap" / "mleap.proto", out / "mleap_wire.proto")
    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    assert protoc.main(["protoc", f"-I{out}", f"-I{REPO / 'protos'}", f"-I{include}", f"--python_out={out}",
                        f"--grpc_python_out={out}", "mleap_wire.proto"]) == 0
    sys.path.insert(0, str(out))
    try:
        pb = importlib.import_module("mleap_wire_pb2")
        pb_grpc = importlib.import_module("mleap_wire_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return types.SimpleNamespace(pb=pb, grpc=pb_grpc)
