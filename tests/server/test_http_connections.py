"""Many open HTTP keep-alive connections (issue 14, part 4): the HTTP port runs on an event loop,
so a connection waiting between requests holds no request thread. A server with --threads 1 keeps
1,000 connections open at once and answers each connection's requests in order.

Every connection sends one infer and reads its answer; only when every connection has its first
answer (all open at once) does each send two more on the same connection, one after the other.
The client speaks HTTP/1.1 over plain asyncio streams so that each request provably goes over the
connection it opened (a pooling client library would hide that).
"""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import free_port, predict_request

CONNECTIONS = 1000


def _infer_body(record: dict, request_id: str) -> bytes:
    inputs = [{"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
              for k, v in record.items()]
    return json.dumps({"id": request_id, "inputs": inputs, "outputs": [{"name": "price_prediction"}]}).encode()


async def _exchange(reader, writer, port: int, body: bytes) -> tuple[int, dict]:
    """One request on an open connection, and its answer: (status, JSON body)."""
    writer.write(b"POST /v2/models/rf/infer HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % (port, len(body)) + body)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = None
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        assert name.strip().lower() != "connection" or value.strip().lower() != "close", "the server closed"
    assert length is not None, "an answer without Content-Length"
    return status, json.loads(await reader.readexactly(length))


async def _open_connections(port: int, count: int, timeout: float) -> dict:
    record = airbnb_record()
    all_open = asyncio.Event()
    first_answers = 0
    results: dict[int, list] = {}

    async def connection(i: int) -> None:
        nonlocal first_answers
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            answers = [await _exchange(reader, writer, port, _infer_body(record, f"{i}-0"))]
            first_answers += 1
            if first_answers == count:
                all_open.set()
            await all_open.wait()
            for n in (1, 2):
                answers.append(await _exchange(reader, writer, port, _infer_body(record, f"{i}-{n}")))
            results[i] = answers
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(connection(i) for i in range(count))), timeout)
    return results


def test_1000_open_keep_alive_connections_answered_in_order(start_server):
    from tests.support.servers import prediction_stub

    port = free_port()
    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--threads", "1",
                          "--http-port", port)
    with grpc.insecure_channel(server.address) as ch:
        expected = prediction_stub(ch).Predict(predict_request("rf", airbnb_record()), timeout=10)
    price = expected.outputs["price_prediction"].double_value
    results = asyncio.run(_open_connections(port, CONNECTIONS, 120))
    assert len(results) == CONNECTIONS, f"{len(results)} of {CONNECTIONS} connections answered"
    for i, answers in sorted(results.items()):
        ids = [body.get("id") for _, body in answers]
        assert ids == [f"{i}-0", f"{i}-1", f"{i}-2"], f"connection {i}: answers in the order {ids}"
        for status, body in answers:
            assert status == 200, f"connection {i}: {status} {body}"
            assert body["outputs"][0]["data"] == [pytest.approx(price)], f"connection {i}: {body}"
    assert server.proc.poll() is None
