"""Container health probe: exit 0 when ``GET /health`` on this host's service answers 200.

    python -m reward_service.healthcheck

It reads the port from the same settings as the service (``REWARD_SERVICE_PORT``), so the
probe and the server cannot disagree. Standard library only: slim images have no curl.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from reward_service.settings import ServiceSettings


def main() -> int:
    url = f"http://127.0.0.1:{ServiceSettings().port}/health"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
