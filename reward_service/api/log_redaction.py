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
from urllib.parse import quote, unquote_plus

from reward_service.api.deps import TOKEN_QUERY_KEY

CREDENTIAL_QUERY_KEYS = frozenset({TOKEN_QUERY_KEY})
"""The query keys the service reads a credential from, lower-case."""
REDACTED = "REDACTED"
ACCESS_LOGGERS = ("uvicorn.access",)
"""Where uvicorn logs one line per request, its URL included."""

_QUERY_PAIR = re.compile(r"(?P<key>[^&;=?#\s]+)=(?P<value>[^&;#\s\"]*)")


def _redact_pair(pair: re.Match[str]) -> str:
    if unquote_plus(pair["key"]).strip().lower() in CREDENTIAL_QUERY_KEYS:
        return f"{pair['key']}={REDACTED}"
    return pair[0]


def redact_url(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """``text`` with every credential query value replaced (if it holds a query string),
    and every one of ``secrets``, as written or percent-encoded, wherever it stands."""
    path, mark, query = text.partition("?")
    if mark:
        text = f"{path}?{_QUERY_PAIR.sub(_redact_pair, query)}"
    for secret in secrets:
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, REDACTED)
    return text


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
