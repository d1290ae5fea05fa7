"""Fair turns: requests take turns, and a slot is held exactly as long as its task runs,
whatever the task does (the pool's wedge came from slots that were never given back)."""

from __future__ import annotations

import asyncio

import pytest

from reward_service.engine.fair_queue import FairQueue, owned_by


class Broken(RuntimeError):
    """What a task that fails raises."""


def test_failing_tasks_give_their_slot_back() -> None:
    async def scenario() -> tuple[int, str]:
        queue = FairQueue(capacity=1)

        async def fail() -> str:
            raise Broken("the pool refused the task")

        async def work() -> str:
            return "done"

        for _ in range(5):  # more failures than slots
            with pytest.raises(Broken):
                await queue.run(fail)
        return queue.running, await asyncio.wait_for(queue.run(work), timeout=5)

    assert asyncio.run(scenario()) == (0, "done")


def test_a_task_whose_caller_left_never_starts() -> None:
    async def scenario() -> list[str]:
        queue = FairQueue(capacity=1)
        started: list[str] = []
        gate = asyncio.Event()

        async def hold() -> None:
            started.append("hold")
            await gate.wait()

        async def dropped() -> None:
            started.append("dropped")

        holding = asyncio.ensure_future(queue.run(hold))
        await asyncio.sleep(0)
        with owned_by("gone"):
            leaving = asyncio.ensure_future(queue.run(dropped))
        await asyncio.sleep(0)
        leaving.cancel()
        gate.set()
        await holding
        await asyncio.sleep(0)
        return started

    assert asyncio.run(scenario()) == ["hold"]


def test_a_newcomer_goes_before_a_request_that_has_had_turns() -> None:
    async def scenario() -> list[str]:
        queue = FairQueue(capacity=1)
        order: list[str] = []
        gate = asyncio.Event()

        def task(name: str):
            async def run() -> None:
                await gate.wait()
                order.append(name)

            return run

        with owned_by("big"):
            big = [asyncio.ensure_future(queue.run(task(f"big{k}"))) for k in range(3)]
        await asyncio.sleep(0)
        with owned_by("small"):
            small = asyncio.ensure_future(queue.run(task("small")))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*big, small)
        return order

    assert asyncio.run(scenario()) == ["big0", "small", "big1", "big2"]
