"""verl reward manager (reward loop API) that scores on the reward service over HTTP.

Load it in verl with::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=HttpRewardManager
    reward.reward_manager.module.path=<this file>
    +reward.reward_kwargs.reward_url=http://127.0.0.1:8000

verl calls ``run_single`` once per sample as soon as it is generated; a shared
micro-batcher turns those calls into batched ``POST /score`` requests.
"""

from __future__ import annotations

from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from trainer.micro_batcher import MicroBatcher
from trainer.reward_items import reward_extra_info, score_item
from trainer.reward_settings import HttpRewardSettings


class HttpRewardManager(RewardManagerBase):
    """Scores each sample on the reward service; every signal goes to ``reward_extra_info``.

    Each item carries the sample's group (verl's ``uid``), response length and whether it
    was truncated, for the service's statistics (:func:`trainer.reward_items.score_item`).

    Settings come from ``config.reward.reward_kwargs`` (see :class:`HttpRewardSettings`).
    A service that stays unreachable after the retries raises
    :class:`reward_service.client.RewardServiceUnavailable` naming the URLs: never a silent 0.
    """

    def __init__(
        self, config: Any, tokenizer: Any, compute_score: Any = None, **_verl_extras: Any
    ) -> None:
        super().__init__(config, tokenizer, compute_score)
        kwargs = config.reward.get("reward_kwargs") or {}
        self.settings = HttpRewardSettings.from_mapping(_to_container(kwargs))
        # where verl's agent loop (and vLLM's default max_tokens) cut a response
        self.max_response_tokens = int(config.actor_rollout_ref.rollout.response_length)
        self._batcher: MicroBatcher[dict[str, Any], dict[str, Any]] | None = None
        self._step: int | None = None

    def _ensure_batcher(self) -> MicroBatcher[dict[str, Any], dict[str, Any]]:
        """Created on first use, inside the event loop that will await it."""
        if self._batcher is None:
            client = self.settings.client()
            self._batcher = MicroBatcher(
                lambda items: client.score(items, step=self._step),
                max_items=self.settings.batch_size,
                flush_ms=self.settings.flush_ms,
            )
        return self._batcher

    async def run_single(self, data: DataProto) -> dict[str, Any]:
        """Score the last sequence of a one-sample DataProto."""
        row = data[-1:][0]
        self._step = training_step(data, default=self._step)
        item = await self.loop.run_in_executor(
            None, score_item, row, self.tokenizer, self.max_response_tokens
        )
        result = await self._ensure_batcher().submit(item)
        return {
            "reward_score": float(result["score"]),
            "reward_extra_info": reward_extra_info(result),
        }


def training_step(data: DataProto, default: int | None = None) -> int | None:
    """The trainer's global step of a sample.

    verl 0.9.1's agent loop copies the step into ``non_tensor_batch["global_steps"]``
    (one entry per row); ``meta_info["global_steps"]`` is where older trainers put it.
    """
    steps = data.non_tensor_batch.get("global_steps")
    if steps is not None and len(steps):
        return int(steps[-1])
    step = data.meta_info.get("global_steps")
    return int(step) if step is not None else default


def _to_container(values: Any) -> dict[str, Any]:
    """A plain dict from an OmegaConf node or a mapping."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(values, DictConfig):
        return OmegaConf.to_container(values, resolve=True)  # type: ignore[return-value]
    return dict(values)
