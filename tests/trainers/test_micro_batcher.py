"""The micro-batcher: one-at-a-time calls become batches, by count or by time."""

from __future__ import annotations

import asyncio

from trainer.micro_batcher import MicroBatcher


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def send(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        if self.fail:
            raise ConnectionError("service down")
        return [item * 10 for item in items]


def test_full_batches_go_at_once_and_the_rest_after_the_wait() -> None:
    recorder = Recorder()

    async def run() -> list[int]:
        batcher = MicroBatcher(recorder.send, max_items=4, flush_ms=50)
        return await asyncio.gather(*(batcher.submit(i) for i in range(10)))

    assert asyncio.run(run()) == [i * 10 for i in range(10)]
    assert recorder.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_a_lone_item_waits_at_most_flush_ms() -> None:
    recorder = Recorder()

    async def run() -> int:
        batcher = MicroBatcher(recorder.send, max_items=1000, flush_ms=20)
        return await asyncio.wait_for(batcher.submit(7), timeout=5)

    assert asyncio.run(run()) == 70 and recorder.batches == [[7]]


def test_a_failed_send_fails_every_item_of_its_batch() -> None:
    recorder = Recorder(fail=True)

    async def run() -> list[object]:
        batcher = MicroBatcher(recorder.send, max_items=3, flush_ms=10)
        return await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)

    results = asyncio.run(run())
    assert all(isinstance(r, ConnectionError) and str(r) == "service down" for r in results)
    assert recorder.batches == [[0, 1, 2]]


def test_a_wrong_number_of_results_fails_every_item() -> None:
    async def send(items: list[int]) -> list[int]:
        return items[:-1]

    async def run() -> list[object]:
        batcher = MicroBatcher(send, max_items=3, flush_ms=10)
        submitted = (batcher.submit(i) for i in range(3))
        return await asyncio.wait_for(asyncio.gather(*submitted, return_exceptions=True), 5)

    results = asyncio.run(run())
    assert all(isinstance(r, RuntimeError) and "2 results for 3 items" in str(r) for r in results)


def test_a_cancelled_send_cancels_its_callers_instead_of_leaving_them_waiting() -> None:
    started = asyncio.Event()

    async def send(items: list[int]) -> list[int]:
        started.set()
        await asyncio.sleep(3600)
        return items

    async def run() -> list[object]:
        batcher = MicroBatcher(send, max_items=2, flush_ms=10)
        callers = asyncio.gather(*(batcher.submit(i) for i in range(2)), return_exceptions=True)
        await started.wait()
        for task in batcher._in_flight:
            task.cancel()
        return await asyncio.wait_for(callers, 5)

    results = asyncio.run(run())
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
