"""A real IRC server for the tests: Debian's ngircd on a free loopback port."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from botsite.tests.processes import Process, free_port, start, wait_until

NGIRCD = shutil.which("ngircd") or "/usr/sbin/ngircd"

CONFIG = """\
[Global]
Name = irc.botsite.test
Info = Botsite test server
AdminInfo1 = Botsite tests
AdminEMail = tests@botsite.invalid
Listen = 127.0.0.1
Ports = {port}

[Limits]
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 120
PongTimeout = 20
{limits}
[Options]
DNS = no
Ident = no
PAM = no
"""


#: The IRC end-to-end tests run the embedded system (SQLite, an in-process broker) whatever
#: the environment: CI's second pass, on PostgreSQL and Redis, would run them again alike.
once_in_ci = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="the embedded system, as in CI's first pass; the same test again adds nothing",
)


def ngircd_required() -> None:
    if Path(NGIRCD).exists():
        return
    pytest.skip("needs ngircd (apt-get install ngircd); .ci/run installs it")


class Ngircd:
    def __init__(self, directory: Path, logs: Path, *, penalties: bool = True) -> None:
        """`penalties=False`: no flood penalties (ngircd slows a client to about a line a
        second otherwise), for measuring more than the server's own limit."""
        self.port = free_port()
        self.config = directory / "ngircd.conf"
        directory.mkdir(parents=True, exist_ok=True)
        limits = "" if penalties else "MaxPenaltyTime = 0\n"
        self.config.write_text(CONFIG.format(port=self.port, limits=limits))
        self.logs = logs
        self.process: Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = start(
            f"ngircd-{self.starts}",
            [NGIRCD, "--nodaemon", "--config", str(self.config)],
            {},
            self.logs,
        )
        wait_until(
            lambda: "ready" in self.process.log() if self.process else False,
            timeout=20,
            what="ngircd",
            watch=[self.process],
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def ngircd(tmp_path: Path) -> Iterator[Ngircd]:
    ngircd_required()
    server = Ngircd(tmp_path / "ircd", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
