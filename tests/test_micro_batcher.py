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
