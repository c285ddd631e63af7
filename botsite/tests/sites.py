"""Real servers for end-to-end tests: the embedded system on its own data, and Chromium."""

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from botsite.tests.processes import Process, free_port, http_ok, start, wait_until
from botsite.tests.subprocess_env import REPO, clean_env, run_manage, run_python

#: Tests that run the embedded system (SQLite, an in-process broker) whatever the
#: environment says: CI's second pass, on PostgreSQL and Redis, would run them again alike.
once_in_ci = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the embedded system, as in CI's first pass; the same test again adds nothing",
)

CHROMIUM = os.environ.get("BOTSITE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
# As on this machine kind's notes: no sandbox as root, and none of Chromium's own traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_required() -> None:
    if shutil.which(CHROMIUM) or Path(CHROMIUM).exists():
        return
    reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


class EmbeddedSite:
    """`make run`'s system on its own data directory, restartable on the same port."""

    def __init__(self, data_dir: Path, logs: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(BOTSITE_DATA_DIR=str(data_dir), ACTION_RUN_SWEEP_SECONDS="1", **env)
        self.logs = logs
        self.process: Process | None = None
        self.starts = 0
        for args in (("migrate", "--noinput", "-v", "0"), ("demo_setup",)):
            result = run_manage(*args, env=self.env)
            assert result.returncode == 0, result.stderr

    def start(self, *options: str) -> None:
        self.starts += 1
        self.process = start(
            f"server-{self.starts}",
            [
                sys.executable,
                "manage.py",
                "runembedded",
                "--noreload",
                *options,
                f"127.0.0.1:{self.port}",
            ],
            self.env,
            self.logs,
        )
        wait_until(
            lambda: http_ok(f"{self.base}/healthz"),
            timeout=60,
            what="the embedded server",
            watch=[self.process],
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def bridge_apart(self) -> None:
        """Run the server without its in-process bridge, for tests that start, kill and
        restart a bridge process of their own (`bridge_start`)."""
        self.stop()
        self.start("--no-bridge")

    def bridge_start(self, number: int) -> Process:
        """`python -m bridge` against this site, with the token the site made."""
        token = (Path(self.env["BOTSITE_DATA_DIR"]) / "bridge_token").read_text().strip()
        env = {
            **self.env,
            "BRIDGE_TOKEN": token,
            "BRIDGE_BOTSITE_URL": f"ws://127.0.0.1:{self.port}",
        }
        return start(f"bridge-{number}", [sys.executable, "-m", "bridge"], env, self.logs)

    def django(self, code: str) -> str:
        """Run Django code against this site's database; returns what it printed."""
        result = run_python("import django\ndjango.setup()\n" + code, self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def batching_window_open(self, window_ms: int) -> None:
        """The demo bot batches the calls of a room in windows of `window_ms`. Windows are
        aligned to the clock: this returns just after one began, so that messages sent
        now share it (waiting for the clock, not guessing a delay)."""
        self.django(
            "from conversations.config import bot_config_changed\n"
            "from conversations.models import Bot\n"
            f"Bot.objects.filter(slug='demo').update(batch_window_ms={window_ms})\n"
            "bot_config_changed(bot_id=Bot.objects.get(slug='demo').pk)\n"
        )
        window = window_ms / 1000
        time.sleep(window - time.time() % window + 0.05)


@contextmanager
def embedded_site(tmp_path: Path, **env: str) -> Iterator[EmbeddedSite]:
    site = EmbeddedSite(tmp_path / "data", tmp_path, **env)
    site.start()
    try:
        yield site
    finally:
        site.stop()
