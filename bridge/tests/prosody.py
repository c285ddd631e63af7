"""A real XMPP server for the tests: Debian's Prosody from a config of the test's own, on a
free loopback port, with a self-signed certificate so STARTTLS is really negotiated."""

import datetime
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from botsite.tests.processes import Process, free_port, start, wait_until

PROSODY = shutil.which("prosody") or "/usr/bin/prosody"
DOMAIN = "botsite.test"
ROOMS = f"rooms.{DOMAIN}"

CONFIG = """\
-- Written by bridge/tests/prosody.py for one test; its log goes to stdout (-F), which
-- the test keeps beside its other processes' logs.
-- CI's containers run tests as root, which Prosody refuses unless told.
run_as_root = true
pidfile = "{directory}/prosody.pid"
data_path = "{directory}/data"
plugin_paths = {{}}
certificates = "{directory}"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ {direct_tls_port} }}
c2s_direct_tls_ssl = {{ certificate = "{directory}/cert.pem", key = "{directory}/key.pem" }}
http_ports = {{}}
https_ports = {{}}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "posix" }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = true
authentication = "internal_plain"
storage = "internal"
log = {{ {{ levels = {{ min = "info" }}, to = "console" }} }}

VirtualHost "{domain}"
    ssl = {{ certificate = "{directory}/cert.pem", key = "{directory}/key.pem" }}

Component "{rooms}" "muc"
    -- Rooms open at once (no configuration step) and show members' real JIDs.
    muc_room_locking = false
    muc_room_default_public_jids = true
"""


def prosody_required() -> None:
    if Path(PROSODY).exists():
        return
    pytest.skip("needs Prosody (apt-get install prosody)")


def certificate_write(directory: Path) -> str:
    """A self-signed certificate for the domain and its rooms; returns it as PEM, the one
    certificate a connector trusts (`tls_ca`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(DOMAIN), x509.DNSName(ROOMS)]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "cert.pem").write_text(pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Prosody:
    def __init__(self, directory: Path, logs: Path) -> None:
        self.port = free_port()
        #: XEP-0368: TLS from the first byte, no STARTTLS.
        self.direct_tls_port = free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.certificate = certificate_write(directory)
        self.config = directory / "prosody.cfg.lua"
        self.config.write_text(
            CONFIG.format(
                directory=directory,
                port=self.port,
                direct_tls_port=self.direct_tls_port,
                domain=DOMAIN,
                rooms=ROOMS,
            )
        )
        self.logs = logs
        self.process: Process | None = None
        self.starts = 0

    def user_add(self, name: str, password: str) -> str:
        """An account, written where `internal_plain` storage reads it (prosodyctl would
        start a Lua runtime per account); returns its JID."""
        accounts = self.directory / "data" / DOMAIN.replace(".", "%2e") / "accounts"
        accounts.mkdir(parents=True, exist_ok=True)
        (accounts / f"{name}.dat").write_text(f'return {{ ["password"] = "{password}" }};\n')
        return f"{name}@{DOMAIN}"

    def start(self) -> None:
        self.starts += 1
        self.process = start(
            f"prosody-{self.starts}", [PROSODY, "-F", "--config", str(self.config)], {}, self.logs
        )
        wait_until(lambda: _accepts(self.port), timeout=20, what="Prosody", watch=[self.process])

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


@contextmanager
def prosody(tmp_path: Path) -> Iterator[Prosody]:
    prosody_required()
    server = Prosody(tmp_path / "prosody", tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
