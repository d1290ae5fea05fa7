"""verl's sync replay buffer, made to stop on lost rewards and to log the reward per step.

verl 0.9.1's V1 trainer marks a rollout group ``failure`` when scoring one of its
samples raised (the reward service stayed unreachable for the whole outage window), and
its replay buffer then trains on the group's surviving samples, padded
(``sync_refill_failed_groups: False``). This buffer raises :class:`LostRewardsError`
instead, which ends the run. It also reads the ``reward_extra_info`` of every sampled
trajectory and returns the per-signal means as metrics, which the trainer adds to the
step's metrics and hence to its console / tensorboard / wandb logger (verl itself logs
``reward_extra_info`` for validation only).

Load it in verl with::

    trainer.v1.sampler.custom_sampler.path=<this file>
    trainer.v1.sampler.custom_sampler.name=RewardCheckedReplayBuffer
    +trainer.v1.sampler.sampler_kwargs.reward_url=http://127.0.0.1:8000   # named in errors
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import transfer_queue as tq
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

METRIC_PREFIX = "reward_service"
"""Metrics are named ``reward_service/<signal>/mean``, e.g. ``reward_service/verify/mean``."""


class LostRewardsError(RuntimeError):
    """Rollout groups failed, most likely because their rewards could not be computed."""


def signal_means(reward_extra_infos: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """The mean of every numeric signal over trajectories, as ``reward_service/<name>/mean``."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for info in reward_extra_infos:
        for name, value in info.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                totals[name] += float(value)
                counts[name] += 1
    return {f"{METRIC_PREFIX}/{name}/mean": totals[name] / counts[name] for name in totals}


class RewardCheckedReplayBuffer(ReplayBuffer):
    """verl's sync :class:`ReplayBuffer` that refuses failed groups and logs reward signals.

    Takes verl's replay-buffer arguments; ``sampler_kwargs.reward_url`` (optional) is
    named in the error so the user knows which service to look at.
    """

    def _terminal_eviction_reasons(self, global_steps: int, partition_id: str) -> Any:
        failed = self.failure_keys[partition_id]
        if failed:
            url = (self.sampler_kwargs or {}).get("reward_url", "the reward service")
            raise LostRewardsError(
                f"{len(failed)} rollout group(s) of step {global_steps} ({partition_id}) failed; "
                f"their rewards are lost (is {url} reachable? the reward loop workers' log "
                "holds each failure). Stopping instead of training on padded groups."
            )
        return super()._terminal_eviction_reasons(global_steps, partition_id)

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[Any, dict]:
        """verl's sampling, plus the per-signal reward means of the sampled trajectories."""
        batch, metrics = super().sample(global_steps, partition_id, batch_size)
        if partition_id == "train" and batch.keys:
            data = tq.kv_batch_get(
                keys=batch.keys, partition_id=partition_id, select_fields=["extra_fields"]
            )
            infos = [_reward_extra_info(fields) for fields in data["extra_fields"]]
            metrics.update(signal_means(infos))
        return batch, metrics


def _reward_extra_info(extra_fields: Any) -> Mapping[str, Any]:
    fields = getattr(extra_fields, "data", extra_fields)
    info = fields.get("reward_extra_info") if isinstance(fields, Mapping) else None
    return info if isinstance(info, Mapping) else {}
