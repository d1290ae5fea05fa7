"""verl reward manager for the older batch API (``AbstractRewardManager.__call__``).

Importing this module registers it in verl's legacy registry as ``reward_service_http``.
It sends the whole batch to the reward service with the same client as
:class:`trainer.http_reward_manager.HttpRewardManager`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import torch
from verl import DataProto
from verl.workers.reward_manager import register
from verl.workers.reward_manager.abstract import AbstractRewardManager

from trainer.reward_items import reward_extra_info, score_item, valid_response_length
from trainer.reward_settings import HttpRewardSettings

REGISTERED_NAME = "reward_service_http"


@register(REGISTERED_NAME)
class HttpBatchRewardManager(AbstractRewardManager):
    """Scores a whole DataProto batch on the reward service in one call.

    Args:
        tokenizer: decodes the responses.
        num_examine: accepted for verl's signature; responses are not printed.
        compute_score: unused; scoring happens in the service.
        reward_fn_key: accepted for verl's signature.
        **reward_kwargs: :class:`HttpRewardSettings` fields.
    """

    def __init__(
        self,
        tokenizer: Any,
        num_examine: int = 0,
        compute_score: Any = None,
        reward_fn_key: str = "data_source",
        **reward_kwargs: Any,
    ) -> None:
        self.tokenizer = tokenizer
        self.settings = HttpRewardSettings.from_mapping(reward_kwargs)

    async def _score(self, items: list[dict[str, Any]], step: int | None) -> list[dict[str, Any]]:
        async with self.settings.client() as client:
            return await client.score(items, step=step)

    def __call__(self, data: DataProto, return_dict: bool = False) -> torch.Tensor | dict[str, Any]:
        """Rewards at each response's last valid token, and every signal per sample."""
        rows = [data[i] for i in range(len(data))]
        items = [score_item(row, self.tokenizer) for row in rows]
        step = data.meta_info.get("global_steps")
        results = asyncio.run(self._score(items, int(step) if step is not None else None))
        reward_tensor = torch.zeros_like(data.batch["responses"], dtype=torch.float32)
        extra: dict[str, list[Any]] = defaultdict(list)
        for index, (row, result) in enumerate(zip(rows, results, strict=True)):
            reward_tensor[index, valid_response_length(row) - 1] = float(result["score"])
            for key, value in reward_extra_info(result).items():
                extra[key].append(value)
        if return_dict:
            return {"reward_tensor": reward_tensor, "reward_extra_info": dict(extra)}
        return reward_tensor
