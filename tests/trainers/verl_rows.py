"""Reward-loop inputs made by verl 0.9.1's own code, not by hand.

A training sample reaches the reward manager this way: ``RLHFDataset`` reads a row of the
training parquet, the V1 trainer adds ``uid`` and ``global_steps``, the agent loop passes
the row's fields on with the ``session_id``, and ``AgentLoopWorker._compute_score`` builds
the one-sample DataProto and sends it to a reward-loop worker. These helpers run that
very ``_compute_score`` with a real or a capturing reward-worker handle.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.agent_loop.agent_loop import (
    AgentLoopMetrics,
    AgentLoopOutput,
    AgentLoopWorker,
)
from verl.utils.dataset.rl_dataset import RLHFDataset

from trainer.data import pi1_rows, write_parquet


def dataset_row(tokenizer: Any, folder: Path) -> dict[str, Any]:
    """pi1's first row as verl's ``RLHFDataset`` yields it from the training parquet."""
    path = write_parquet(pi1_rows(1), folder / "pi1.parquet")
    config = OmegaConf.create({"max_prompt_length": 4096, "filter_overlong_prompts": False})
    return dict(RLHFDataset([str(path)], tokenizer, config)[0])


def sample_kwargs(row: dict[str, Any], step: int, session_id: int) -> dict[str, Any]:
    """What the V1 agent loop passes per sample: the row, its uid and step, the session."""
    fields = {key: value for key, value in row.items() if key != "agent_name"}
    return {**fields, "uid": str(uuid.uuid4()), "global_steps": step, "session_id": session_id}


def _output(tokenizer: Any, response: str) -> AgentLoopOutput:
    prompt_ids = tokenizer.encode("<|im_start|>user\nQ<|im_end|>\n", add_special_tokens=False)
    response_ids = tokenizer.encode(response, add_special_tokens=False)
    return AgentLoopOutput(
        prompt_ids=prompt_ids,
        response_ids=response_ids,
        response_mask=[1] * len(response_ids),
        metrics=AgentLoopMetrics(),
    )


def _bare_worker(reward_handles: list[Any]) -> AgentLoopWorker:
    """An AgentLoopWorker with just what ``_compute_score`` reads (text-only, no LLM)."""
    worker = AgentLoopWorker.__new__(AgentLoopWorker)
    worker.reward_loop_worker_handles = reward_handles
    worker.processor = None
    worker.mm_processor_kwargs = None
    return worker


async def score_through_agent_loop(
    reward_handles: list[Any], tokenizer: Any, response: str, kwargs: dict[str, Any]
) -> AgentLoopOutput:
    """verl's ``_compute_score`` for one generated response; the scored output."""
    output = _output(tokenizer, response)
    await _bare_worker(reward_handles)._compute_score([output], kwargs=kwargs)
    return output


class _CapturingRewardWorker:
    """Stands where a reward-loop worker's handle stands; keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[DataProto] = []
        self.compute_score = self

    def remote(self, data: DataProto) -> asyncio.Future[dict[str, Any]]:
        self.received.append(data)
        future = asyncio.get_running_loop().create_future()
        future.set_result({"reward_score": 0.0, "reward_extra_info": {}})
        return future


def agent_loop_row(
    tokenizer: Any, row: dict[str, Any], response: str, step: int, session_id: int = 0
) -> DataProto:
    """The one-sample DataProto verl's agent loop hands the reward manager for ``response``."""
    capture = _CapturingRewardWorker()
    kwargs = sample_kwargs(row, step, session_id)
    loop = asyncio.new_event_loop()  # not asyncio.run: the caller's current loop stays set
    try:
        loop.run_until_complete(score_through_agent_loop([capture], tokenizer, response, kwargs))
    finally:
        loop.close()
    (data,) = capture.received
    return data
