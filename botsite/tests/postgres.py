"""A PostgreSQL cluster of a test's own, on a free port, for tests that stop the database.

The machine's shared PostgreSQL is never stopped: `initdb` makes a cluster in a temporary
folder, `pg_ctl` starts and stops it. PostgreSQL refuses to run as root, so as root (CI)
every command runs as the `postgres` user.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from botsite.tests.processes import free_port

DATABASE_NAME = "botsite"


def _binaries() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return installed[-1].parent if installed else None


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    binaries: Path

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def _run(self, tool: str, *args: str) -> None:
        command = _as_owner([str(self.binaries / tool), *args])
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.directory / "server.log"
            server_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"{tool} {args[0]} failed:\n{done.stderr}\n{server_log}")

    def start(self) -> None:
        """Start, and return once it accepts connections."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        data, log = self.directory / "data", self.directory / "server.log"
        self._run("pg_ctl", "start", "-w", "-D", str(data), "-l", str(log), "-o", options)

    def stop(self) -> None:
        """Stop at once: open sessions are ended, as in an operator's restart."""
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.directory / "data"))


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A running cluster with an empty database `botsite`, removed afterwards."""
    binaries = _binaries()
    if binaries is None:
        reason = "needs PostgreSQL's server programs (initdb, pg_ctl)"
        if os.environ.get("BOTSITE_REQUIRE_SERVICES"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Not under pytest's tmp_path: as root that is private to root, and the server runs
    # as postgres.
    directory = Path(tempfile.mkdtemp(prefix="botsite-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres")
    cluster = PostgresCluster(directory=directory, port=free_port(), binaries=binaries)
    try:
        cluster._run("initdb", "-D", str(directory / "data"), "-A", "trust", "-U", "postgres")
        cluster.start()
        try:
            with psycopg.connect(
                f"postgres://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
            ) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE_NAME}")
            yield cluster
        finally:
            if (directory / "data" / "postmaster.pid").exists():
                cluster.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
