"""Where the benchmarks write what they measured."""

import json
import time
from pathlib import Path
from typing import Any

from botsite.tests.subprocess_env import REPO

RESULTS = REPO / "bench" / "results"


def results_write(prefix: str, results: list[dict[str, Any]], *, smoke: bool) -> Path:
    """Write `bench/results/<prefix><time>[-smoke].json`; returns its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{prefix}{stamp}{'-smoke' if smoke else ''}.json"
    path.write_text(json.dumps(results, indent=2))
    return path
