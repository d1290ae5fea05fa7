"""Reward-loop inputs made by verl 0.9.1's own agent loop, not by hand.

A training sample reaches the reward manager this way: ``RLHFDataset`` reads a row of the
training parquet, the V1 trainer adds ``uid`` and ``global_steps``, the agent-loop worker
runs verl's single-turn agent loop on it (the LLM generates; the loop cuts the response at
the rollout's ``response_length``) and its ``_compute_score`` builds the one-sample DataProto
that a reward-loop worker hands ``run_single``. :class:`VerlAgentLoop` runs exactly that on a
real ``AgentLoopWorker``; only the LLM is scripted (``ScriptedRollout``, cutting where vLLM
would) and the reward-loop worker's handle keeps what it is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.workers.rollout.replica import TokenOutput

from tests.trainers.verl_standins import ScriptedRollout
from trainer.data import pi1_rows, write_parquet


def dataset_row(tokenizer: Any, folder: Path) -> dict[str, Any]:
    """pi1's first row as verl's ``RLHFDataset`` yields it from the training parquet."""
    path = write_parquet(pi1_rows(1), folder / "pi1.parquet")
    config = OmegaConf.create({"max_prompt_length": 4096, "filter_overlong_prompts": False})
    return dict(RLHFDataset([str(path)], tokenizer, config)[0])


def sample_kwargs(row: dict[str, Any], uid: str, step: int, session_id: int) -> dict[str, Any]:
    """What the V1 agent-loop worker passes per sample: the row, its uid and step, the session."""
    fields = {key: value for key, value in row.items() if key != "agent_name"}
    return {**fields, "uid": uid, "global_steps": step, "session_id": session_id}


class _ScriptedLLMClient:
    """Stands where verl's ``LLMServerClient`` stands, answering from a script in-process."""

    def __init__(self, rollout: ScriptedRollout) -> None:
        self.rollout = rollout

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any], **_: Any
    ) -> TokenOutput:
        return self.rollout.complete(prompt_ids, sampling_params, version=None)


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


class VerlAgentLoop:
    """verl's ``AgentLoopWorker`` built from a run config, its LLM answering from a script."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.reward_worker = _CapturingRewardWorker()
        self.worker = AgentLoopWorker(
            config, llm_client=None, reward_loop_worker_handles=[self.reward_worker]
        )

    def rows(
        self, row: dict[str, Any], responses: list[str], step: int, uid: str | None = None
    ) -> list[DataProto]:
        """One prompt's group: what ``run_single`` receives for each response, in order."""
        uid = uid or str(uuid.uuid4())
        loop = asyncio.new_event_loop()  # not asyncio.run: the caller's current loop stays set
        try:
            return [
                loop.run_until_complete(self._row(row, text, uid, step, session))
                for session, text in enumerate(responses)
            ]
        finally:
            loop.close()

    async def _row(
        self, row: dict[str, Any], response: str, uid: str, step: int, session: int
    ) -> DataProto:
        rollout = self.config.actor_rollout_ref.rollout
        self.worker.llm_client = _ScriptedLLMClient(
            ScriptedRollout(
                self.worker.tokenizer, rollout.prompt_length, rollout.response_length, (response,)
            )
        )
        sampling_params = {
            "temperature": rollout.temperature,
            "top_p": rollout.top_p,
            "top_k": rollout.top_k,
            "repetition_penalty": 1.0,
            "logprobs": rollout.calculate_log_probs,
        }
        trajectory = {"step": step, "sample_index": 0, "rollout_n": session, "validate": False}
        await self.worker._run_agent_loop(
            sampling_params,
            trajectory,
            agent_name=rollout.agent.default_agent_loop,
            trace=False,
            **sample_kwargs(row, uid, step, session),
        )
        return self.reward_worker.received.pop()
