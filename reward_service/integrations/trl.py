"""TRL: the multi-signal reward as ``GRPOTrainer`` reward functions, scored on the service.

    from reward_service.integrations.trl import multisignal_reward_funcs

    trainer = GRPOTrainer(
        model=...,
        reward_funcs=multisignal_reward_funcs("http://127.0.0.1:8000"),
        args=GRPOConfig(..., reward_weights=[1.0, 0.2, 0.2]),   # alpha, beta, gamma
        train_dataset=dataset,                                    # with a "ground_truth" column
    )

TRL calls each reward function with the step's ``prompts`` and ``completions`` (plain text
or chat messages), ``completion_ids``, ``trainer_state`` and the dataset's columns, logs each
function as its own reward column (``rewards/verify``, ``rewards/format``, ``rewards/reflect``)
and weighs them with ``reward_weights``. The three functions share one batched
``POST /score`` per step, tagged for the service's statistics with the trainer's global step,
each completion's group (its prompt's index in the step), its length in tokens and, when the
dataset has a ``data_source`` column, its source.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reward_service.client import RewardClient
from reward_service.scoring import label_text

SIGNALS = ("verify", "format", "reflect")
LABEL_COLUMNS = ("ground_truth", "answer")
"""Columns tried for the label, in order, when no ``label_column`` is given."""

RewardFunc = Callable[..., list[float]]


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """A completion's text: itself, or the content of a conversational completion's turns."""
    if isinstance(completion, str):
        return completion
    return "".join(str(turn.get("content") or "") for turn in completion)


def _labels(columns: Mapping[str, Any], label_column: str | None) -> list[str]:
    names = (label_column,) if label_column else LABEL_COLUMNS
    for name in names:
        if name in columns:
            return [label_text(label) for label in columns[name]]
    raise KeyError(f"the dataset has no label column: looked for {list(names)}")


def prompt_groups(prompts: Sequence[Any], num_generations: int | None = None) -> list[str]:
    """The group of each completion: its prompt's index in the step.

    GRPOTrainer passes the completions of one prompt next to each other, so a group is a
    run of equal prompts, cut every ``num_generations`` completions when given (needed when
    one prompt is drawn twice in a row, as in a one-example dataset). The process's rank
    (``RANK``) prefixes the index: with several processes, each numbers its own prompts.
    """
    rank = os.environ.get("RANK", "0")
    groups: list[str] = []
    index, run, previous = -1, 0, None
    for prompt in prompts:
        if index < 0 or prompt != previous or run == num_generations:
            index, run, previous = index + 1, 0, prompt
        run += 1
        groups.append(f"{rank}-{index}")
    return groups


def _items(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    columns: Mapping[str, Any],
    label_column: str | None,
    num_generations: int | None,
) -> list[dict[str, Any]]:
    """The ``/score`` items of one call: response, label and what the statistics read."""
    labels = _labels(columns, label_column)
    ids = columns.get("completion_ids")
    sources = columns.get("data_source")
    items = []
    for index, (completion, label, group) in enumerate(
        zip(completions, labels, prompt_groups(prompts, num_generations), strict=True)
    ):
        item: dict[str, Any] = {
            "response": completion_text(completion),
            "ground_truth": label,
            "group": group,
        }
        if ids is not None:
            item["response_tokens"] = len(ids[index])
        if sources is not None and sources[index] is not None:
            item["data_source"] = str(sources[index])
        items.append(item)
    return items


class _SharedScores:
    """Scores one step once, for the three reward functions that TRL calls in turn."""

    def __init__(
        self,
        client_factory: Callable[[], RewardClient],
        label_column: str | None,
        num_generations: int | None,
    ):
        self._client_factory = client_factory
        self._label_column = label_column
        self._num_generations = num_generations
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._results: list[dict[str, Any]] = []

    def results(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> list[dict]:
        items = _items(prompts, completions, columns, self._label_column, self._num_generations)
        state = columns.get("trainer_state")
        step = getattr(state, "global_step", None)
        key = repr((step, items)).encode()
        with self._lock:
            if key != self._key:
                self._results = _run(self._score(items, step))
                self._key = key
            return self._results

    async def _score(self, items: list[dict[str, Any]], step: int | None) -> list[dict[str, Any]]:
        async with self._client_factory() as client:
            return await client.score(items, step=step)


def _run(coroutine: Any) -> Any:
    """Run ``coroutine`` to completion, also when the caller's thread has a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join()
    return result[0]


def multisignal_reward_funcs(
    url: str | Sequence[str],
    *,
    label_column: str | None = None,
    num_generations: int | None = None,
    api_token: str | None = None,
    timeout_s: float = 120.0,
    retries: int = 5,
) -> list[RewardFunc]:
    """Three ``GRPOTrainer`` reward functions, named ``verify``, ``format`` and ``reflect``.

    Args:
        url: the reward service, or several (requests spread over them).
        label_column: the dataset column with the label; by default ``ground_truth``,
            else ``answer``.
        num_generations: ``GRPOConfig.num_generations``; needed for the statistics' groups
            only when a prompt can be drawn twice in a row (see :func:`prompt_groups`).
        api_token: bearer token, when the service requires one.
        timeout_s, retries: per request, as in :class:`RewardClient`.

    Each returns one 0/1 signal per completion; set ``reward_weights`` in ``GRPOConfig`` to
    ``[alpha, beta, gamma]``. A service that stays unreachable raises (no silent zeros).
    """
    shared = _SharedScores(
        lambda: RewardClient(url, timeout_s=timeout_s, retries=retries, api_token=api_token),
        label_column,
        num_generations,
    )

    def signal_func(signal: str) -> RewardFunc:
        def reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
            results = shared.results(prompts, completions, columns)
            return [float(result[signal]) for result in results]

        reward.__name__ = reward.__qualname__ = signal
        reward.__doc__ = f"R_{signal} of each completion, from the reward service."
        return reward

    return [signal_func(signal) for signal in SIGNALS]
