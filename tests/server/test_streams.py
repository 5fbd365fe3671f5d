"""Many open PredictStreams (issue 14, part 4): open streams hold no request thread, so a server
with --threads 1 or 4 keeps 1,000 streams open at once and answers each in order (about 10 s each
on 2 cores).

Every stream sends one request and waits for its answer; only when every stream has its first
answer (all open at once) does each send two more, answered in order. Before grpc.aio a stream
held a thread: with --threads 4 the third stream was refused (--max-concurrent-streams, half the
threads), and without that limit the fifth waited for a thread that never came free.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from tests.support.bundles import RF_ZIP, airbnb_record
from tests.support.servers import predict_request
from tests.support.streams import check_predict_answers, open_predict_streams


def _run(start_server, threads: int, count: int, seconds: float) -> None:
    from tests.support.servers import prediction_stub

    server = start_server("--model", f"rf={RF_ZIP}", "--reload-interval", "0", "--threads", str(threads))
    with grpc.insecure_channel(server.address) as ch:
        expected = prediction_stub(ch).Predict(predict_request("rf", airbnb_record()), timeout=10)
    price = expected.outputs["price_prediction"].double_value
    results = asyncio.run(open_predict_streams(server.address, count, seconds))
    check_predict_answers(results, count, price, seconds)
    assert server.proc.poll() is None


@pytest.mark.parametrize("threads", [1, 4])
def test_1000_open_streams_answered_in_order(start_server, threads):
    _run(start_server, threads, 1000, 50.0)


def test_placement_keeps_fast_pipelines_on_the_loop_and_others_off_it():
    """Placement (Predict, PredictStream and MLeap's streams): a pipeline's first call, of unknown
    cost, runs on the threads; then a fast pipeline's calls run on the event loop's thread, a slow
    one's (over INLINE_SECONDS, a moving average) on the threads, a fast pipeline's call of many
    records (a ModelInfer of many rows) on the threads too, and a pipeline whose cost does not follow
    its input's size (a regex tokenizer) always on the threads. A call's wait for a free thread is
    not counted as its pipeline's time."""
    import threading
    import time
    import types
    from concurrent import futures

    from leapserve.server.services.prediction import INLINE_SECONDS, Placement

    class Pipeline(types.SimpleNamespace):  # a class of its own: Placement holds pipelines weakly, by identity
        __hash__ = object.__hash__

    def pipeline(*ops):  # what Placement reads of a pipeline: its stages' ops
        return Pipeline(stages=[types.SimpleNamespace(op=op) for op in ops])

    fast, slow, regex = pipeline("vector_assembler"), pipeline("vector_assembler"), pipeline("regex_tokenizer")

    def where(seconds: float) -> int:
        time.sleep(seconds)
        return threading.get_ident()

    async def calls(placement, pipeline, seconds, count) -> list[bool]:
        loop_thread = threading.get_ident()
        return [await placement.run(pipeline, where, seconds) == loop_thread for _ in range(count)]

    with futures.ThreadPoolExecutor(1) as threads:
        placement = Placement(threads)
        # The only thread is busy when the fast pipeline's first call comes: that call waits 20
        # INLINE_SECONDS for it, and the wait is not the pipeline's time (timed on the thread), so the
        # next calls run on the loop (the second, or a later one should the machine stall the first's
        # own microseconds). Counting the wait kept them on the threads for a dozen calls.
        threads.submit(time.sleep, 20 * INLINE_SECONDS)
        on_loop = asyncio.run(calls(placement, fast, 0.0, 5))
        assert not on_loop[0] and any(on_loop[1:]), on_loop
        loop_thread = threading.get_ident()

        async def many_records():  # the fast pipeline's average per record, times a million records
            return await placement.run(fast, where, 0.0, records=1_000_000) == loop_thread

        assert not asyncio.run(many_records())
        assert asyncio.run(calls(placement, slow, 5 * INLINE_SECONDS, 4)) == [False] * 4
        assert asyncio.run(calls(placement, regex, 0.0, 4)) == [False] * 4


def test_placement_forgets_a_replaced_pipeline_and_a_new_one_starts_from_its_first_estimate(tmp_path):
    """A reload replaces the pipeline: the old one's moving average goes with it, and the new one's
    first call runs on the threads (the first-call estimate), whatever the old one averaged."""
    import gc
    import threading
    import weakref
    from concurrent import futures

    from leapserve.runtime import load_bundle
    from leapserve.server.services.prediction import Placement
    from tests.support.handmade import assembled_lr_nodes, write_bundle

    path = write_bundle(tmp_path / "b", "json", assembled_lr_nodes())

    async def on_loop(placement, pipeline, count) -> list[bool]:
        loop_thread = threading.get_ident()
        return [await placement.run(pipeline, threading.get_ident) == loop_thread for _ in range(count)]

    with futures.ThreadPoolExecutor(1) as threads:
        placement = Placement(threads)
        threads.submit(int).result()
        old = load_bundle(path)
        assert asyncio.run(on_loop(placement, old, 30))[-1]  # fast: on the loop after its first call
        old_ref = weakref.ref(old)
        del old
        gc.collect()
        assert old_ref() is None and len(placement._seconds) == 0
        new = load_bundle(path)
        assert asyncio.run(on_loop(placement, new, 1)) == [False]
        assert len(placement._seconds) == 1
