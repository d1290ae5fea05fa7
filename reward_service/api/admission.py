"""A bound on the work in flight: items and body bytes of the requests being served.

Bytes are counted as they are read, never as a client declares them, so an idle
connection that promised a huge body holds nothing. Past the bound a request is refused
with 503 and ``Retry-After`` (the client retries), so memory stays bounded however many
clients send at once. A request that fits the per-request limits is always admitted when
nothing else is in flight.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from reward_service.errors import RETRY_AFTER_S, Overloaded


class InFlightLimit:
    """Counts the items and bytes being served against ``max_items`` and ``max_bytes``."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items = 0
        self.bytes = 0

    def _refuse_unless_fits(self, items: int, size: int, own_bytes: int = 0) -> None:
        others = self.items or self.bytes - own_bytes
        if others and (self.items + items > self.max_items or self.bytes + size > self.max_bytes):
            raise Overloaded(
                f"busy: {self.items} items and {self.bytes} bytes in flight "
                f"(limits {self.max_items} and {self.max_bytes}); retry in {RETRY_AFTER_S}s"
            )

    def take_bytes(self, size: int, own_bytes: int) -> None:
        """Hold ``size`` more bytes of a request that already holds ``own_bytes``; give
        them back with :meth:`give_back_bytes`.

        Raises:
            Overloaded: they do not fit next to what other requests hold.
        """
        self._refuse_unless_fits(0, size, own_bytes)
        self.bytes += size

    def give_back_bytes(self, size: int) -> None:
        """Release bytes taken with :meth:`take_bytes`."""
        self.bytes -= size

    @contextlib.contextmanager
    def admit(self, items: int) -> Iterator[None]:
        """Hold ``items`` while the block runs.

        Raises:
            Overloaded: they do not fit next to what is in flight.
        """
        self._refuse_unless_fits(items, 0)
        self.items += items
        try:
            yield
        finally:
            self.items -= items
