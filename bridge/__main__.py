"""`python -m bridge`: the bridge process, configured by the environment.

BRIDGE_BOTSITE_URL (ws://127.0.0.1:8000 by default; wss:// in production) and BRIDGE_TOKEN
(or BRIDGE_TOKEN_FILE), the token Botsite is configured with.
"""

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from bridge.app import Bridge


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    token_file = os.environ.get("BRIDGE_TOKEN_FILE", "")
    token = os.environ.get("BRIDGE_TOKEN", "")
    if token_file:
        token = Path(token_file).read_text().strip()
    if not token:
        logging.getLogger("bridge").error(
            "Set BRIDGE_TOKEN (or BRIDGE_TOKEN_FILE): the token Botsite expects."
        )
        return 2
    url = os.environ.get("BRIDGE_BOTSITE_URL", "ws://127.0.0.1:8000")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Bridge(url=url, token=token).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
