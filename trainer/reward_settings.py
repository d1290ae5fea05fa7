"""Settings of the HTTP reward managers, read from verl's ``reward.reward_kwargs``."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from reward_service.client import DEFAULT_BACKOFF_S, DEFAULT_RETRIES, RewardClient
from reward_service.scoring import RewardWeights

DEFAULT_REWARD_URL = "http://127.0.0.1:8000"
TOKEN_VARIABLE = "REWARD_SERVICE_API_TOKEN"
"""Where the bearer token comes from when ``reward_kwargs`` has none (keeps it out of logs)."""
DEFAULT_OUTAGE_WINDOW_S = 600.0
"""How long a training run waits out an unreachable service before it stops."""
DEFAULT_MANAGER_TIMEOUT_S = 120.0
"""Limit for one request from the trainer (a micro-batch, at most ``batch_size`` items)."""


def _token_from_environment() -> str | None:
    return os.environ.get(TOKEN_VARIABLE) or None


@dataclass(frozen=True)
class HttpRewardSettings:
    """How a verl reward manager reaches the reward service.

    Attributes:
        reward_url: one base URL, or several (chunks are spread across them).
        timeout_s: limit for one HTTP request.
        outage_window_s: how long to keep retrying connection errors, timeouts and 5xx
            (every failure logged) before the sample fails and the run stops; 0 uses
            ``retries`` instead.
        retries: attempts after the first, when ``outage_window_s`` is 0.
        backoff_s: first wait between attempts; doubles each time.
        batch_size: the micro-batcher sends once this many items are waiting...
        flush_ms: ...or once the oldest waiting item has waited this long.
        alpha, beta, gamma: signal weights sent with every request; None keeps the service's.
        api_token: bearer token, when the service requires one; defaults to the
            ``REWARD_SERVICE_API_TOKEN`` variable.
    """

    reward_url: tuple[str, ...] = (DEFAULT_REWARD_URL,)
    timeout_s: float = DEFAULT_MANAGER_TIMEOUT_S
    outage_window_s: float = DEFAULT_OUTAGE_WINDOW_S
    retries: int = DEFAULT_RETRIES
    backoff_s: float = DEFAULT_BACKOFF_S
    batch_size: int = 512
    flush_ms: float = 20.0  # measured: benchmarks/RESULTS.md, "Micro-batcher flush window"
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    api_token: str | None = field(default_factory=_token_from_environment, repr=False)

    def __post_init__(self) -> None:
        if not self.reward_url or not all(
            u.startswith(("http://", "https://")) for u in self.reward_url
        ):
            raise ValueError(f"reward_url must be http(s) URLs, got {self.reward_url!r}")
        if self.retries < 0 or self.batch_size < 1:
            raise ValueError("retries must be >= 0 and batch_size >= 1")
        if self.weights:
            RewardWeights.from_mapping(self.weights)  # the one definition of a weight
        for name in ("timeout_s", "outage_window_s", "backoff_s", "flush_ms"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> HttpRewardSettings:
        """Settings from ``reward_kwargs``; unknown keys are an error, not a silent default."""
        values = dict(values or {})
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown reward_kwargs {sorted(unknown)}; known: {sorted(known)}")
        url = values.get("reward_url", DEFAULT_REWARD_URL)
        urls = [url] if isinstance(url, str) else list(url)
        values["reward_url"] = tuple(
            u.strip() for s in urls for u in str(s).split(",") if u.strip()
        )
        return cls(**values)

    @property
    def weights(self) -> dict[str, float] | None:
        """The weights to send, or None to keep the service's defaults."""
        given = {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}
        return {name: value for name, value in given.items() if value is not None} or None

    def client(self) -> RewardClient:
        """A client for these URLs, retries, weights and token (create it in its event loop)."""
        return RewardClient(
            self.reward_url,
            timeout_s=self.timeout_s,
            retries=self.retries,
            outage_window_s=self.outage_window_s or None,
            backoff_s=self.backoff_s,
            api_token=self.api_token,
            weights=self.weights,
        )
