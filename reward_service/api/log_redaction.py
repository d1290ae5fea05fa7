"""Credentials never reach a log: the access log's URLs with their credential values cut out.

OpenRLHF can send the API token only in the URL (``?token=...``), and uvicorn's access log
writes each request's path with its query string. :class:`RedactCredentials`, on the access
log, replaces the value of every query key the service reads a credential from
(:data:`CREDENTIAL_QUERY_KEYS`) with ``REDACTED``, however the key is spelled (any case,
percent-encoded) and however often it is given, and the service's own token wherever else it
stands in the URL (a path, another parameter); the rest of the line (client, method, path,
other parameters, status) is left as it was.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, unquote_plus

from reward_service.api.deps import TOKEN_QUERY_KEY

CREDENTIAL_QUERY_KEYS = frozenset({TOKEN_QUERY_KEY})
"""The query keys the service reads a credential from, lower-case."""
REDACTED = "REDACTED"
ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")
"""Where uvicorn logs a line per request, its URL included: HTTP requests in the access
log, WebSocket handshakes (which the service refuses) in the error log."""

_QUERY_PAIR = re.compile(r"(?P<key>[^&;=?#\s]+)=(?P<value>[^&;#\s\"]*)")


def _redact_pair(pair: re.Match[str]) -> str:
    if unquote_plus(pair["key"]).strip().lower() in CREDENTIAL_QUERY_KEYS:
        return f"{pair['key']}={REDACTED}"
    return pair[0]


def redact_url(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """``text`` with every credential query value replaced (if it holds a query string),
    and every part of it (a path segment, a query parameter) that holds one of
    ``secrets``, as written or however percent-encoded."""
    for secret in secrets:  # as written, even across path segments
        text = text.replace(secret, REDACTED)
    path, mark, query = text.partition("?")
    if mark:
        query = _QUERY_PAIR.sub(_redact_pair, query)
    if secrets:
        path = "/".join(_unless_secret(segment, secrets) for segment in path.split("/"))
        query = "&".join(_unless_secret(pair, secrets) for pair in query.split("&"))
    return f"{path}{mark}{query}"


def _holds(text: str, secrets: frozenset[str]) -> bool:
    """Whether ``text``, decoded (``+`` as a plus or as a space), holds one of ``secrets``."""
    readings = (unquote(text), unquote_plus(text))
    return any(secret in reading for secret in secrets for reading in readings)


def _unless_secret(part: str, secrets: frozenset[str]) -> str:
    """``part`` as it is, or REDACTED (a query parameter keeps its key) when it holds one
    of ``secrets``."""
    if not _holds(part, secrets):
        return part
    key, equals, _ = part.partition("=")
    return f"{key}={REDACTED}" if equals and not _holds(key, secrets) else REDACTED


class RedactCredentials(logging.Filter):
    """Rewrites the URLs in a log record's arguments and message (never drops a record);
    ``secrets``, the tokens of the services in this process, are cut out wherever they stand."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(arg, self.secrets) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg, self.secrets)
        return True


_FILTER = RedactCredentials()


def redact_access_logs(token: str | None) -> None:
    """Put the filter on the access loggers (once, whatever the number of apps), cutting out
    ``token`` (the service's own) too."""
    if token:
        _FILTER.secrets |= {token}
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)
