"""An async client for ``POST /score``: chunks spread over several URLs, retried with backoff.

Its exceptions (:mod:`reward_service.errors`), all raised from one place
(:meth:`RewardClient._post`): :class:`RewardServiceUnavailable` (connection errors, timeouts or
5xx, after the last retry) and :class:`RewardRequestRejected` (a 4xx answer: the request itself
is wrong, never retried), both :class:`RewardServiceError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from reward_service.errors import (
    RewardRequestRejected,
    RewardServiceError,
    RewardServiceUnavailable,
)

__all__ = [
    "RewardClient",
    "RewardRequestRejected",
    "RewardServiceError",
    "RewardServiceUnavailable",
]

logger = logging.getLogger("reward_service.client")

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_S = 0.5
DEFAULT_MAX_BACKOFF_S = 10.0
DEFAULT_CHUNK_ITEMS = 4096


class _Retryable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url


def _log_failed_attempt(state: RetryCallState) -> None:
    """Every failed attempt is logged as a warning: an outage is never silent."""
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "reward service attempt %d failed after %.1fs, retrying: %s",
        state.attempt_number,
        state.seconds_since_start,
        error,
    )


class RewardClient:
    """Scores items on one or more reward-service URLs.

    Args:
        urls: one base URL or several; chunks go round-robin, a retry moves to the next URL.
        timeout_s: limit for one HTTP request.
        retries: attempts after the first, with exponential backoff.
        outage_window_s: when set, retry for this long instead of ``retries`` times, so
            that a service restarted within the window loses nothing.
        backoff_s, max_backoff_s: first and longest wait between attempts.
        api_token: bearer token, when the service requires one.
        weights: ``{"alpha", "beta", "gamma"}`` sent with every request.
        chunk_items: most items in one request.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        outage_window_s: float | None = None,
        backoff_s: float = DEFAULT_BACKOFF_S,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
        api_token: str | None = None,
        weights: Mapping[str, float] | None = None,
        chunk_items: int = DEFAULT_CHUNK_ITEMS,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("at least one reward URL is needed")
        if retries < 0 or chunk_items < 1:
            raise ValueError("retries must be >= 0 and chunk_items >= 1")
        self.urls = [url.rstrip("/") for url in self.urls]
        self.retries = retries
        self._stop = (
            stop_after_attempt(retries + 1)
            if outage_window_s is None
            else stop_after_delay(outage_window_s)
        )
        self.weights = dict(weights) if weights else None
        self.chunk_items = chunk_items
        self._wait = wait_exponential(multiplier=backoff_s, max=max_backoff_s)
        headers = {"content-type": "application/json"}
        if api_token:
            headers["authorization"] = f"Bearer {api_token}"
        self._http = httpx.AsyncClient(timeout=timeout_s, headers=headers)
        self._next_url = 0

    async def __aenter__(self) -> RewardClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def score(
        self, items: Sequence[Mapping[str, Any]], step: int | None = None
    ) -> list[dict[str, Any]]:
        """Score ``items`` (``response``, ``ground_truth``, ...); results in the same order.

        Raises:
            RewardServiceUnavailable: every attempt failed; the message names the URLs.
            RewardRequestRejected: the service refused the request.
        """
        chunks = [
            items[start : start + self.chunk_items]
            for start in range(0, len(items), self.chunk_items)
        ]
        first_url, self._next_url = self._next_url, self._next_url + len(chunks)
        results = await asyncio.gather(
            *(self._score_chunk(chunk, first_url + i, step) for i, chunk in enumerate(chunks))
        )
        return [result for chunk_results in results for result in chunk_results]

    async def _score_chunk(
        self, chunk: Sequence[Mapping[str, Any]], url_index: int, step: int | None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"items": list(chunk)}
        if self.weights:
            body["weights"] = self.weights
        if step is not None:
            body["step"] = step
        payload = orjson.dumps(body)
        tried: list[str] = []

        async def attempt() -> list[dict[str, Any]]:
            url = self.urls[(url_index + len(tried)) % len(self.urls)]
            tried.append(url)
            return await self._post(url, payload, len(chunk))

        retrying = AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=_log_failed_attempt,
            reraise=True,
        )
        try:
            return await retrying(attempt)
        except _Retryable as exc:
            raise RewardServiceUnavailable(
                f"reward service failed after {len(tried)} attempts "
                f"(tried {', '.join(sorted(set(tried)))}); last error: {exc}"
            ) from exc

    async def _post(self, url: str, payload: bytes, expected: int) -> list[dict[str, Any]]:
        """One request; lower-level failures are translated here and only here."""
        try:
            response = await self._http.post(f"{url}/score", content=payload)
        except httpx.TransportError as exc:  # connect errors, timeouts, broken connections
            raise _Retryable(url, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise _Retryable(url, f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise RewardRequestRejected(
                f"{url}/score refused the request: HTTP {response.status_code}: "
                f"{response.text[:500]}"
            )
        try:
            results = orjson.loads(response.content)["results"]
        except (orjson.JSONDecodeError, KeyError, TypeError):  # e.g. a proxy's HTML page
            kind = response.headers.get("content-type", "no content type")
            raise _Retryable(
                url, f"HTTP {response.status_code} without a JSON 'results' list ({kind})"
            ) from None
        if not isinstance(results, list) or len(results) != expected:
            got = len(results) if isinstance(results, list) else type(results).__name__
            raise _Retryable(url, f"expected {expected} results, got {got}")
        return results
