"""A real IRC server for the tests: Debian's ngircd on a free loopback port."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from botsite.tests.processes import Process, free_port, start, wait_until
from botsite.tests.sites import once_in_ci

__all__ = ["Ngircd", "ngircd", "once_in_ci"]

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


def ngircd_required() -> None:
    if Path(NGIRCD).exists():
        return
    pytest.skip("needs ngircd (apt-get install ngircd); .ci/run installs it")


class Ngircd:
    def __init__(
        self, directory: Path, logs: Path, *, penalties: bool = True, password: str = ""
    ) -> None:
        """`penalties=False`: no flood penalties (ngircd slows a client to about a line a
        second otherwise), for measuring more than the server's own limit. `password`:
        the server password every client must give (PASS)."""
        self.port = free_port()
        self.config = directory / "ngircd.conf"
        directory.mkdir(parents=True, exist_ok=True)
        limits = "" if penalties else "MaxPenaltyTime = 0\n"
        config = CONFIG.format(port=self.port, limits=limits)
        if password:
            config = config.replace("[Limits]", f"Password = {password}\n\n[Limits]")
        self.config.write_text(config)
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
def ngircd(tmp_path: Path, *, password: str = "") -> Iterator[Ngircd]:
    ngircd_required()
    server = Ngircd(tmp_path / "ircd", tmp_path, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
