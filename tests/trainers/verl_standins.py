"""What stands in for the GPU when verl 0.9.1's V1 trainer runs on a CPU; the rest is verl's own.

verl's ``run_ppo`` starts :class:`StandInTaskRunner`, which is verl's ``TaskRunnerV1`` (its
``run``, TransferQueue, agent-loop manager and workers, LLM client and load balancer, reward
loop workers, replay buffer and ``PPOTrainerSync.fit`` all unchanged) with one difference:
trainer mode ``sync`` builds :class:`StandInSyncTrainer`, verl's ``PPOTrainerSync`` whose
``_setup`` puts these in place of the GPU parts:

- :class:`StandInRolloutServer` answers ``generate`` in place of vLLM, with
  :class:`ScriptedRollout`: :data:`RESPONSES` in turn, cut where vLLM would cut them;
- :class:`StandInReplica` is verl's ``RolloutReplica`` whose servers are that actor;
- :class:`StandInWorkerGroup` stands where the FSDP actor/reference worker group stands:
  the log-prob passes copy the rollout's log-probs, and the actor update checks that the
  batch holds what a PPO update reads, and trains nothing.

Settings for one run come from the environment of Ray's workers (the test's ``ray.init``
sets it): :data:`SERVER_NAME_VARIABLE` names the server actor and :data:`HOLD_VARIABLE`
holds the requests after the N-th until the test releases them.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import ray
import torch
from tensordict import TensorDict
from verl.checkpoint_engine import CheckpointEngineManager
from verl.experimental.reward_loop import RewardLoopManager
from verl.single_controller.ray import ResourcePoolManager
from verl.trainer.main_ppo import TaskRunnerV1
from verl.trainer.ppo.v1 import PPOTrainerSync
from verl.utils import tensordict_utils as tu
from verl.utils.config import omega_conf_to_dataclass
from verl.utils.transferqueue_utils import tqbridge
from verl.workers.rollout.llm_server import LLMServerManager
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from tests.conftest import make_response

RESPONSES = (
    make_response("12.8"),  # right, formatted, says correct: every signal 1
    make_response("12"),  # wrong, formatted, says correct: format only
    make_response("12", "The answer is wrong."),  # wrong, formatted, says wrong: format, reflect
    "<think>" + "Let me expand P = kAV^3 once more. " * 40,  # runs past the token limit
)
"""What the stand-in rollout server answers, in turn: every phase of the test runs (a
validation pass, a training step) asks for a multiple of four responses."""

ROLLOUT_LOG_PROB = -0.25
"""The log-probability the stand-in rollout reports for every token it generates."""

SERVER_NAME_VARIABLE = "STANDIN_ROLLOUT_SERVER"
HOLD_VARIABLE = "STANDIN_ROLLOUT_HOLD_AFTER"


class ScriptedRollout:
    """Completes prompts the way verl's vLLM server does, with scripted text instead of a model.

    Each completion is the next of ``responses``, tokenized, with the end-of-sequence token
    vLLM keeps, cut at vLLM's default ``max_tokens`` (the configured response length, within
    the context budget), with log-probs when asked and the model version in ``extra_fields``.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompt_length: int,
        response_length: int,
        responses: tuple[str, ...] = RESPONSES,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.response_length = response_length
        self.responses = responses
        self.answered = 0

    def complete(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], version: int | None
    ) -> TokenOutput:
        text = self.responses[self.answered % len(self.responses)]
        self.answered += 1
        budget = self.prompt_length + self.response_length - len(prompt_ids)
        limit = min(self.response_length, budget)
        token_ids = self.tokenizer.encode(text, add_special_tokens=False)
        token_ids = [*token_ids, self.tokenizer.eos_token_id][:limit]
        log_probs = [ROLLOUT_LOG_PROB] * len(token_ids) if sampling_params.get("logprobs") else None
        return TokenOutput(
            token_ids=token_ids,
            log_probs=log_probs,
            stop_reason="completed",
            extra_fields={"global_steps": version},
        )


@ray.remote(num_cpus=0)
class StandInRolloutServer:
    """Stands where verl's vLLM server actor stands: ``generate`` answers from a script.

    Like vLLM in verl's hybrid mode it sleeps and wakes with the trainer, and refuses to
    generate while asleep. With :data:`HOLD_VARIABLE` set to N, requests after the N-th wait
    until :meth:`release` (a test's handle on when the next phase starts).
    """

    def __init__(self, model_path: str, prompt_length: int, response_length: int) -> None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.rollout = ScriptedRollout(tokenizer, prompt_length, response_length)
        self.awake = True
        self.version: int | None = None
        hold_after = os.environ.get(HOLD_VARIABLE)
        self.hold_after = int(hold_after) if hold_after else None
        self.requests = 0
        self.released = asyncio.Event()

    async def generate(
        self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str, **_: Any
    ) -> TokenOutput:
        """Token in, token out, as verl's ``vLLMHttpServer.generate``."""
        if not self.awake:
            raise RuntimeError("generate called while the rollout is asleep")
        self.requests += 1
        if self.hold_after is not None and self.requests > self.hold_after:
            await self.released.wait()
        return self.rollout.complete(prompt_ids, sampling_params, self.version)

    def update_weights(self, global_steps: int | None) -> None:
        """What verl's naive weight sync leaves behind: new weights, an awake engine."""
        self.version = global_steps
        self.awake = True

    def wake_up(self) -> None:
        self.awake = True

    def sleep(self) -> None:
        self.awake = False

    def held_requests(self) -> int:
        """Requests waiting for :meth:`release`."""
        return max(0, self.requests - self.hold_after) if self.hold_after is not None else 0

    def release(self) -> None:
        self.released.set()


class StandInReplica(RolloutReplica):
    """verl's rollout replica whose server is a :class:`StandInRolloutServer`."""

    async def init_hybrid(self, worker_group: Any) -> None:
        await super().init_hybrid(worker_group)
        worker_group.rollout_servers.append(self._server_handle)

    async def launch_servers(self) -> None:
        name = os.environ.get(SERVER_NAME_VARIABLE, "standin_rollout")
        server = StandInRolloutServer.options(name=f"{name}_{self.replica_rank}").remote(
            self.model_config.path, self.config.prompt_length, self.config.response_length
        )
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"standin-rollout-{self.replica_rank}"


class StandInLLMServerManager(LLMServerManager):
    """verl's LLM server manager, launching :class:`StandInReplica` replicas."""

    rollout_replica_class = StandInReplica


def _response_padded(values: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """A model output over prompt and response, as the FSDP engine returns it: the value of
    response token ``i`` sits at position ``prompt_length + i - 1`` (shifted by one)."""
    full = torch.zeros(prompt_length + len(values), dtype=torch.float32)
    full[prompt_length - 1 : prompt_length - 1 + len(values)] = values
    return full


def _nested(rows: list[torch.Tensor]) -> torch.Tensor:
    return torch.nested.as_nested_tensor(rows, layout=torch.jagged)


class StandInWorkerGroup:
    """Stands where verl's FSDP actor/reference worker group stands: one data-parallel rank.

    Its passes take TransferQueue batches through verl's own ``tqbridge``, as the real
    workers' dispatch does.
    """

    world_size = 1

    def __init__(self) -> None:
        self.workers = [None]
        self._dispatch_info = {"actor": [0]}
        self.rollout_servers: list[Any] = []

    def init_model(self) -> None:
        """Nothing to build: no model is trained here."""

    @tqbridge()
    def compute_log_prob(self, data: TensorDict) -> TensorDict:
        """The rollout's log-probs in place of the actor's forward pass; zero entropy."""
        prompts = data["prompts"].unbind()
        log_probs = [
            _response_padded(rollout, len(prompt))
            for prompt, rollout in zip(prompts, data["rollout_log_probs"].unbind(), strict=True)
        ]
        entropy = [torch.zeros_like(row) for row in log_probs]
        return tu.get_tensordict(
            {"log_probs": _nested(log_probs), "entropy": _nested(entropy)},
            non_tensor_dict={"metrics": {}},
        )

    compute_ref_log_prob = compute_log_prob

    @tqbridge()
    def update_actor(self, data: TensorDict) -> TensorDict:
        """Checks the batch holds what verl's PPO loss reads; trains nothing."""
        needed = ("advantages", "old_log_probs", "ref_log_prob", "response_mask", "responses")
        missing = sorted(set(needed) - set(data.keys()))
        if missing:
            raise KeyError(f"the actor update would read {missing}, which the batch lacks")
        # verl's trainer logs the update's metrics and always pops "mfu" from them
        return tu.get_tensordict({}, non_tensor_dict={"metrics": {"mfu": 0.0}})

    def update_weights(self, global_steps: int | None = None, mode: str = "auto") -> Any:
        """verl's naive weight sync: the rollout servers get the new model version."""
        return [server.update_weights.remote(global_steps) for server in self.rollout_servers]

    def save_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        """No weights to save."""


class StandInSyncTrainer(PPOTrainerSync):
    """verl's sync trainer; ``_setup`` builds the stand-ins instead of GPU workers and vLLM.

    Everything else in ``_setup`` is verl's order and verl's classes: tokenizer, dataloaders,
    the reward loop manager, the LLM server manager and load balancer, the checkpoint-engine
    manager, and the checkpoint load.
    """

    def _setup(self) -> None:
        self._init_tokenizer()
        self._init_dataloader()
        self._init_dump_executor()
        trainer = self.config.trainer
        self.resource_pool_manager = ResourcePoolManager(
            resource_pool_spec={"global_pool": [trainer.n_gpus_per_node] * trainer.nnodes},
            mapping={},
        )
        self.ref_in_actor = False
        self.actor_rollout_wg = self.ref_policy_wg = StandInWorkerGroup()
        self.reward_loop_manager = RewardLoopManager(config=self.config, rm_resource_pool=None)
        self.teacher_model_manager = None
        self.distillation_config = None
        self.llm_server_manager = StandInLLMServerManager.create(
            config=self.config, worker_group=self.actor_rollout_wg
        )
        engine_config = omega_conf_to_dataclass(
            self.config.actor_rollout_ref.rollout.checkpoint_engine
        )
        engine_config.backend = "naive"
        self.checkpoint_manager = CheckpointEngineManager(
            config=engine_config,
            actor_wg=self.actor_rollout_wg,
            replicas=self.llm_server_manager.get_replicas(),
        )
        self.checkpoint_manager.sleep_replicas()
        self._load_checkpoint()


@ray.remote
class StandInTaskRunner(TaskRunnerV1.__ray_actor_class__):  # type: ignore[name-defined,misc]
    """verl's ``TaskRunnerV1`` (the class under its ``@ray.remote``), with trainer mode
    ``sync`` building :class:`StandInSyncTrainer`; ``run`` is verl's."""

    def __init__(self) -> None:
        from verl.trainer.ppo.v1 import trainer_base

        trainer_base.TRAINER_REGISTRY["sync"] = StandInSyncTrainer
        super().__init__()
