"""TRL: the multi-signal reward as ``GRPOTrainer`` reward functions, scored on the service.

    from reward_service.integrations.trl import multisignal_reward_funcs

    trainer = GRPOTrainer(
        model=...,
        reward_funcs=multisignal_reward_funcs("http://127.0.0.1:8000"),
        args=GRPOConfig(..., reward_weights=[1.0, 0.2, 0.2]),   # alpha, beta, gamma
        train_dataset=dataset,                                    # with a "ground_truth" column
    )

TRL calls each reward function with the step's ``prompts`` and ``completions`` (plain text
or chat messages) and the dataset's columns, logs each function as its own reward column
(``rewards/verify``, ``rewards/format``, ``rewards/reflect``) and weighs them with
``reward_weights``. The three functions share one batched ``POST /score`` per step.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reward_service.client import RewardClient

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
            return [str(label) for label in columns[name]]
    raise KeyError(f"the dataset has no label column: looked for {list(names)}")


class _SharedScores:
    """Scores one step once, for the three reward functions that TRL calls in turn."""

    def __init__(self, client_factory: Callable[[], RewardClient], label_column: str | None):
        self._client_factory = client_factory
        self._label_column = label_column
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._results: list[dict[str, Any]] = []

    def results(self, completions: Sequence[Any], columns: Mapping[str, Any]) -> list[dict]:
        texts = [completion_text(completion) for completion in completions]
        labels = _labels(columns, self._label_column)
        key = (tuple(texts), tuple(labels))
        with self._lock:
            if key != self._key:
                items = [
                    {"response": text, "ground_truth": label}
                    for text, label in zip(texts, labels, strict=True)
                ]
                self._results = _run(self._score(items))
                self._key = key
            return self._results

    async def _score(self, items: list[dict[str, str]]) -> list[dict[str, Any]]:
        async with self._client_factory() as client:
            return await client.score(items)


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
    api_token: str | None = None,
    timeout_s: float = 120.0,
    retries: int = 5,
) -> list[RewardFunc]:
    """Three ``GRPOTrainer`` reward functions, named ``verify``, ``format`` and ``reflect``.

    Args:
        url: the reward service, or several (requests spread over them).
        label_column: the dataset column with the label; by default ``ground_truth``,
            else ``answer``.
        api_token: bearer token, when the service requires one.
        timeout_s, retries: per request, as in :class:`RewardClient`.

    Each returns one 0/1 signal per completion; set ``reward_weights`` in ``GRPOConfig`` to
    ``[alpha, beta, gamma]``. A service that stays unreachable raises (no silent zeros).
    """
    shared = _SharedScores(
        lambda: RewardClient(url, timeout_s=timeout_s, retries=retries, api_token=api_token),
        label_column,
    )

    def signal_func(signal: str) -> RewardFunc:
        def reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
            return [float(result[signal]) for result in shared.results(completions, columns)]

        reward.__name__ = reward.__qualname__ = signal
        reward.__doc__ = f"R_{signal} of each completion, from the reward service."
        return reward

    return [signal_func(signal) for signal in SIGNALS]
