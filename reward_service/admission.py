"""A bound on the work in flight: items and body bytes of the requests being served.

Past the bound a request is refused with 503 and ``Retry-After`` (the client retries), so
memory stays bounded however many clients send at once. A request that fits the per-request
limits is always admitted when nothing else is in flight.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

RETRY_AFTER_S = 2


class Overloaded(RuntimeError):
    """Admitting the request would pass the in-flight bound; retry after RETRY_AFTER_S."""


class InFlightLimit:
    """Counts the items and bytes being served against ``max_items`` and ``max_bytes``."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items = 0
        self.bytes = 0

    @contextlib.contextmanager
    def admit(self, items: int = 0, size: int = 0) -> Iterator[None]:
        """Hold ``items`` and ``size`` bytes while the block runs.

        Raises:
            Overloaded: they do not fit next to what is in flight.
        """
        busy = self.items or self.bytes
        if busy and (self.items + items > self.max_items or self.bytes + size > self.max_bytes):
            raise Overloaded(
                f"busy: {self.items} items and {self.bytes} bytes in flight "
                f"(limits {self.max_items} and {self.max_bytes}); retry in {RETRY_AFTER_S}s"
            )
        self.items += items
        self.bytes += size
        try:
            yield
        finally:
            self.items -= items
            self.bytes -= size
