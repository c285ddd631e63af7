"""A real Matrix homeserver for the tests: Synapse from the virtualenv, on SQLite, on a free
loopback port, with no federation, TLS, media or outside key servers."""

import hashlib
import hmac
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from botsite.tests.processes import Process, free_port, http_ok, start, wait_until

SERVER_NAME = "botsite.test"

#: Rate limits far above what a test sends: the tests measure the bot, not the limiter.
LOOSE = "{{per_second: 1000, burst_count: 1000}}"  # braces doubled for format()

CONFIG = f"""\
server_name: "{SERVER_NAME}"
pid_file: "{{directory}}/homeserver.pid"
public_baseurl: "http://127.0.0.1:{{port}}/"
listeners:
  - port: {{port}}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{{directory}}/homeserver.db"
signing_key_path: "{{directory}}/signing.key"
media_store_path: "{{directory}}/media"
enable_media_repo: false
registration_shared_secret: "{{secret}}"
macaroon_secret_key: "{{macaroon}}"
form_secret: "{{form}}"
report_stats: false
# Passwords hashed as cheaply as bcrypt allows: every login checks one.
bcrypt_rounds: 4
suppress_key_server_warning: true
trusted_key_servers: []
federation_domain_whitelist: []
enable_metrics: false
presence:
  enabled: false
url_preview_enabled: false
user_directory:
  enabled: false
rc_message: {LOOSE}
rc_login:
  address: {LOOSE}
  account: {LOOSE}
  failed_attempts: {LOOSE}
rc_registration: {LOOSE}
rc_joins:
  local: {LOOSE}
  remote: {LOOSE}
rc_joins_per_room: {LOOSE}
rc_invites:
  per_room: {LOOSE}
  per_user: {LOOSE}
  per_issuer: {LOOSE}
rc_admin_redaction: {LOOSE}
rc_3pid_validation: {LOOSE}
rc_presence:
  per_user: {LOOSE}
rc_delayed_event_mgmt: {LOOSE}
"""


def synapse_required() -> None:
    pytest.importorskip("synapse", reason="needs matrix-synapse (requirements-dev.txt)")


class Synapse:
    def __init__(self, directory: Path, logs: Path) -> None:
        # Synapse's own dependency: imported only where Synapse is.
        from signedjson.key import generate_signing_key, write_signing_keys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory, self.logs = directory, logs
        self.secret = secrets.token_hex(16)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "signing.key").open("w") as key_file:
            write_signing_keys(key_file, [generate_signing_key("a_test")])
        self.config = directory / "homeserver.yaml"
        self.config.write_text(
            CONFIG.format(
                directory=directory,
                port=self.port,
                secret=self.secret,
                macaroon=secrets.token_hex(16),
                form=secrets.token_hex(16),
            )
        )
        self.process: Process | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = start(
            f"synapse-{self.starts}",
            [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(self.config)],
            {"PATH": os.environ.get("PATH", "")},
            self.logs,
        )
        wait_until(
            lambda: http_ok(f"{self.url}/_matrix/client/versions"),
            timeout=60,
            what="Synapse to answer",
            watch=[self.process],
        )

    def stop(self) -> None:
        if self.process is not None:
            # Synapse's own way to stop (synctl's), whatever a shell did to SIGINT.
            self.process.stop(sig=signal.SIGTERM)
            self.process = None

    def user_register(self, localpart: str, password: str, *, admin: bool = False) -> str:
        """A user made through the shared-secret admin API; returns the user id."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        signed = "\x00".join([nonce, localpart, password, "admin" if admin else "notadmin"])
        mac = hmac.new(self.secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
        answer = httpx.post(
            endpoint,
            json={
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac,
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["user_id"])


@contextmanager
def synapse(tmp_path: Path) -> Iterator[Synapse]:
    synapse_required()
    server = Synapse(tmp_path / "synapse", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
