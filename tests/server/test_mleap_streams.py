"""Many open MLeap streams (issue 14, part 4): an open TransformFrameStream or TransformRowStream
holds no request thread, so a server with --threads 1 keeps 300 of them open at once (half frame,
half row streams) and answers each in order.

Every stream sends its opening message and one frame or row, and waits for its answer; only when
every stream has its first answer (all open at once) does each send two more, answered in order.
When MLeap's streams were sync handlers each held a thread: with --threads 1 the second stream
waited for a thread that never came free. Stubs are generated at test time (tests/support/mleap_stubs.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import grpc
import pytest

from tests.support import mleap_frames as mf
from tests.support import mleap_stubs
from tests.support.bundles import FRAME, RF_ZIP
from tests.support.streams import open_all

STREAMS = 300  # half frame streams, half row streams
SECONDS = 15.0
AIRBNB = json.loads(FRAME.read_bytes())
FIELDS = [(f["name"], f["type"]) for f in AIRBNB["schema"]["fields"]]
ROW = list(AIRBNB["rows"][0])


def _row_spec(pb):
    spec = pb.RowStreamSpec(format=mf.BINARY, options=pb.TransformOptions(select=["price_prediction"]))
    bases = {"string": 100, "double": 7}
    for name, t in FIELDS:
        f = spec.schema.fields.add(name=name)
        f.data_type.base = bases[t]
        f.data_type.shape.is_nullable = True
    return spec


async def _open_streams(wire, address: str, spec) -> dict:
    """Half row streams (odd i, on the stream "rows"), half frame streams; tags i * 10 + n."""
    pb = wire.pb
    frame = mf.binary_frame(FIELDS, [ROW])
    row = mf.binary_row(FIELDS, ROW)

    async def start(channel, i: int):
        stub = wire.grpc.MleapStub(channel)
        if i % 2:
            call = stub.TransformRowStream(timeout=SECONDS)
            await call.write(pb.TransformRowRequest(model_name="rf", stream_name="rows", format=mf.BINARY,
                                                    input_schema=spec.schema))
        else:
            call = stub.TransformFrameStream(timeout=SECONDS)
            await call.write(pb.TransformFrameRequest(model_name="rf", format=mf.BINARY,
                                                      options=pb.TransformOptions(select=["price_prediction"])))
        return call

    def message(i: int, n: int):
        if i % 2:
            return pb.TransformRowRequest(tag=i * 10 + n, row=row)
        return pb.TransformFrameRequest(tag=i * 10 + n, frame=frame)

    return await open_all(address, STREAMS, SECONDS, start, message)


def test_300_open_mleap_streams_answered_in_order(start_server, tmp_path):
    wire = mleap_stubs.generate(tmp_path)
    pb = wire.pb
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--threads", "1")
    spec = _row_spec(pb)
    with grpc.insecure_channel(server.address) as ch:
        stub = wire.grpc.MleapStub(ch)
        stub.CreateRowStream(pb.CreateRowStreamRequest(model_name="rf", stream_name="rows", spec=spec), timeout=10)
        expected_frame = stub.Transform(pb.TransformFrameRequest(
            model_name="rf", format=mf.BINARY, frame=mf.binary_frame(FIELDS, [ROW]),
            options=pb.TransformOptions(select=["price_prediction"])), timeout=10).frame
        expected_row, = [a.row for a in stub.TransformRowStream(iter([
            pb.TransformRowRequest(model_name="rf", stream_name="rows", format=mf.BINARY, input_schema=spec.schema),
            pb.TransformRowRequest(tag=1, row=mf.binary_row(FIELDS, ROW))]), timeout=10)]
    assert expected_frame and expected_row

    results = asyncio.run(_open_streams(wire, server.address, spec))
    assert len(results) == STREAMS, f"{len(results)} of {STREAMS} streams answered within {SECONDS} s"
    for i, answers in sorted(results.items()):
        tags = [a.tag for a in answers]
        assert tags == [i * 10, i * 10 + 1, i * 10 + 2], f"stream {i}: answers tagged {tags}"
        for a in answers:
            assert a.status == pb.STATUS_OK, f"stream {i}: {a.error}"
            assert (a.row if i % 2 else a.frame) == (expected_row if i % 2 else expected_frame), f"stream {i}"
    assert server.proc.poll() is None


def test_mleap_stream_limits_and_slot_release(start_server, tmp_path):
    """--max-stream-requests ends an MLeap stream with RESOURCE_EXHAUSTED after answering the
    messages before it (the opening message counts); --max-concurrent-streams refuses a second open
    stream at once, and a cancelled stream gives its slot back."""
    wire = mleap_stubs.generate(tmp_path)
    pb = wire.pb
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--threads", "1",
                          "--max-stream-requests", "2", "--max-concurrent-streams", "1")
    frame = mf.binary_frame(FIELDS, [ROW])
    opening = pb.TransformFrameRequest(model_name="rf", format=mf.BINARY)
    with grpc.insecure_channel(server.address) as ch:
        stub = wire.grpc.MleapStub(ch)
        call = stub.TransformFrameStream(iter([opening] + [pb.TransformFrameRequest(tag=t, frame=frame)
                                                           for t in (1, 2, 3)]), timeout=10)
        answered = []
        with pytest.raises(grpc.RpcError) as info:
            for answer in call:
                answered.append(answer.tag)
        assert answered == [1]
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "more than 2 requests in one TransformFrameStream" in info.value.details()

        release = threading.Event()

        def held_open():
            yield opening
            yield pb.TransformFrameRequest(tag=1, frame=frame)
            release.wait(30)

        held = stub.TransformFrameStream(held_open(), timeout=30)
        assert next(held).tag == 1  # open, waiting for its next message
        with pytest.raises(grpc.RpcError) as info:
            list(stub.TransformRowStream(iter([pb.TransformRowRequest(model_name="rf", stream_name="x")]),
                                         timeout=10))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "1 streams are open" in info.value.details()
        held.cancel()
        release.set()
        deadline = time.monotonic() + 5
        while True:  # the server learns of the cancellation a moment later
            try:
                answers = list(stub.TransformFrameStream(iter([opening, pb.TransformFrameRequest(tag=5, frame=frame)]),
                                                         timeout=10))
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline, e
                time.sleep(0.05)
        assert [a.tag for a in answers] == [5]
    assert server.proc.poll() is None
