"""Many open streams at once (issue 14, part 4), as the stream tests drive them: every stream sends
its opening and first request and reads one answer; only when every stream has its first answer (all
open at once) does each send two more requests, close its side and read the rest, which must come in
order."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import grpc
import pytest

from tests.support.bundles import airbnb_record
from tests.support.servers import predict_request

CHANNELS = 8  # streams spread over a few connections, as many clients would


async def open_all(address: str, count: int, timeout: float,
                   start: Callable[[object, int], Awaitable[object]], message: Callable[[int, int], object]) -> dict:
    """Each stream's answers by its number i, for those done within ``timeout`` seconds (the caller
    says how many answered). ``start(channel, i)`` opens stream i (writing any opening message),
    ``message(i, n)`` is its n-th request (n = 0, 1, 2)."""
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    all_open = asyncio.Event()
    first_answers = 0
    results: dict[int, list] = {}

    async def stream(i: int) -> None:
        nonlocal first_answers
        call = await start(channels[i % CHANNELS], i)
        await call.write(message(i, 0))
        answers = [await call.read()]
        first_answers += 1
        if first_answers == count:
            all_open.set()
        await all_open.wait()
        for n in (1, 2):
            await call.write(message(i, n))
        await call.done_writing()
        while (answer := await call.read()) is not grpc.aio.EOF:
            answers.append(answer)
        results[i] = answers

    try:
        await asyncio.wait_for(asyncio.gather(*(stream(i) for i in range(count))), timeout)
    except TimeoutError:
        pass
    finally:
        for ch in channels:
            await ch.close()
    return results


async def open_predict_streams(address: str, count: int, timeout: float) -> dict:
    """``count`` PredictStreams of the airbnb forest, request ids "i-n"."""
    from leapserve.v1 import prediction_pb2_grpc as pb_grpc

    record = airbnb_record()

    async def start(channel, i: int):
        return pb_grpc.PredictionServiceStub(channel).PredictStream(timeout=timeout)

    def message(i: int, n: int):
        return predict_request("rf", record, request_id=f"{i}-{n}")

    return await open_all(address, count, timeout, start, message)


def check_predict_answers(results: dict, count: int, expected_price: float, timeout: float) -> None:
    assert len(results) == count, f"{len(results)} of {count} streams answered within {timeout} s"
    for i, answers in sorted(results.items()):
        ids = [a.request_id for a in answers]
        assert ids == [f"{i}-0", f"{i}-1", f"{i}-2"], f"stream {i}: answers in the order {ids}, expected 0, 1, 2"
        for a in answers:
            assert not a.HasField("status") or a.status.code == 0, f"stream {i}: {a.status}"
            assert a.outputs["price_prediction"].double_value == pytest.approx(expected_price), f"stream {i}"
