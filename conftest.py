"""Fixtures shared by every app's tests, and by the end-to-end tests of the production
topology (real daphne, Celery worker and beat processes on PostgreSQL and Redis)."""

import ipaddress
import os
import re
import secrets
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
import redis
from celery.signals import before_task_publish
from django.contrib.auth import get_user_model
from django.db import connection, connections

from botsite.tests.processes import (
    Process,
    RedisServer,
    free_port,
    http_ok,
    start,
    wait_until,
)
from botsite.tests.subprocess_env import clean_env, run_manage
from chat.demo import demo_install

# The `receiver` fixture: a local webhook receiver that verifies signatures.
pytest_plugins = ["webhooks.tests.receiver"]

#: Lines of each process's log a failed test's report shows.
FAILED_TEST_LOG_LINES = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that started processes shows the end of each one's log (its
    `tmp_path/*.log`), so a failure in CI says what the processes saw."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.when != "call" or not report.failed or tmp_path is None:
        return
    for log in sorted(Path(tmp_path).glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-FAILED_TEST_LOG_LINES:]
        report.sections.append((f"{log.name}, last {len(lines)} lines", "\n".join(lines)))


@pytest.fixture(scope="session", autouse=True)
def _database_connections_close_after_use():
    # Threads of database_sync_to_async would otherwise keep persistent PostgreSQL
    # connections open past the session, and the test database could not be dropped.
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """Each test reads and writes its own cache keys, also in a shared Redis."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for alias, config in settings.CACHES.items()
    }


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):  # a Unix socket (PostgreSQL's, say)
        return True
    try:
        return ipaddress.ip_address(address[0].split("%")[0]).is_loopback
    except ValueError:  # a name: the resolver fixture below answers it first
        return address[0] == "localhost"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """No test process connects beyond loopback: a guard test that judged a public address
    wrongly, or a code path that fetched at save, fails here instead of reaching out."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(address: object) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"a test connected beyond loopback, to {address!r}")

    def connect(self, address):
        refuse(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        refuse(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> dict[str, list[str]]:
    """The resolver tests get: names a test lists answer what it says, addresses and
    localhost resolve as usual, and any other name does not resolve. No test asks a real
    DNS server about a name, and an outbound-guard test judges the answers it gave."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            family = {True: socket.AF_INET6, False: socket.AF_INET}
            return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[name]]
        if name is None or name.rstrip(".").lower() == "localhost":
            return real(host, port, *args, **kwargs)
        try:
            real(host, None, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not known to this test") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


#: An address outside every private and reserved range, given to names in connector
#: settings; the tests never connect to it (the socket guard above refuses).
PUBLIC_ADDRESS = "93.184.216.34"


@pytest.fixture
def network_servers(settings, dns) -> list[str]:
    """Connector settings name servers, which are checked as every outbound connection is:
    the example names resolve to a public address, and the loopback ports the unit tests
    name are allowed as operators would allow them (`HTTP_ALLOWED_HOSTS`)."""
    for name in ("example.org", "xmpp.example.org", "matrix.example.org", "irc.example.org",
                 "irc.chat.twitch.tv"):  # fmt: skip
        dns[name] = [PUBLIC_ADDRESS]
    settings.HTTP_ALLOWED_HOSTS = [
        *settings.HTTP_ALLOWED_HOSTS,
        "127.0.0.1:6667",
        "127.0.0.1:5222",
        "[::1]:5222",
    ]
    return settings.HTTP_ALLOWED_HOSTS


@dataclass(frozen=True)
class PublishedTask:
    name: str
    args: tuple
    eta: str | None


@pytest.fixture
def published_tasks() -> Iterator[list[PublishedTask]]:
    """The Celery tasks this test hands to the broker, in order, as the broker gets them."""
    published: list[PublishedTask] = []

    def record(sender, body, headers, **_):
        args, _kwargs, _embed = body
        published.append(PublishedTask(name=sender, args=tuple(args), eta=headers.get("eta")))

    before_task_publish.connect(record, weak=False)
    yield published
    before_task_publish.disconnect(record)


@pytest.fixture
def demo_bot(db):
    """The demo bot exactly as `make run` installs it."""
    return demo_install()


# Its own Redis database, flushed first, so no stray task from elsewhere; two test runs on
# one machine at once set BOTSITE_E2E_REDIS_DB apart.
E2E_REDIS_DB = int(os.environ.get("BOTSITE_E2E_REDIS_DB", "14"))


@pytest.fixture
def weather_port() -> int:
    """The one port of this machine the processes may call out to: where a test serves its
    local weather API (`botsite.tests.weather_api.api_serve(..., weather_port)`)."""
    return free_port()


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> Path:
    """Static files collected once, as the Dockerfile does: with DEBUG off the manifest
    storage answers 500 on any page that links one (the admin's) until they are."""
    root = tmp_path_factory.mktemp("static")
    env = clean_env(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        STATIC_ROOT=str(root),
    )
    collected = run_manage("collectstatic", "--noinput", "-v", "0", env=env, timeout=300)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    return root


@pytest.fixture
def services_env(request, weather_port):
    """Environment for the processes: this test's PostgreSQL database and a clean Redis db."""
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        reason = "needs DATABASE_URL (PostgreSQL) and REDIS_URL; CI's second pass sets both"
        if os.environ.get("BOTSITE_REQUIRE_SERVICES"):
            pytest.fail(reason)
        pytest.skip(reason)
    if connection.vendor != "postgresql":
        pytest.fail(f"DATABASE_URL must point at PostgreSQL, not {connection.vendor}")
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    database_url = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    parts = urlsplit(os.environ["REDIS_URL"])
    redis_url = urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))
    try:
        redis.Redis.from_url(redis_url, socket_timeout=5).flushdb()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {redis_url} cannot be reached: {error}")
    return clean_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        ACTION_RUN_SWEEP_SECONDS="1",
        ACTION_RUN_STUCK_SECONDS="2",
        ACTION_RUN_TIMEOUT_SECONDS="4",
        CELERY_WORKER_HIJACK_ROOT_LOGGER="false",
        HTTP_ALLOWED_HOSTS=f"127.0.0.1:{weather_port}",
        STATIC_ROOT=str(request.getfixturevalue("collected_static")),
    )


#: The staff account `Topology.message_post` uses.
INTEGRATOR = ("integrator", "e2e-password-1")


@dataclass
class Topology:
    port: int
    env: dict[str, str]
    logs: Path
    processes: list[Process]

    @property
    def worker(self) -> Process:
        return next(p for p in reversed(self.processes) if p.name.startswith("worker"))

    def message_post(
        self, text: str, participant: str, *, wait: float = 0, room: str | None = None
    ) -> httpx.Response:
        """`POST /api/v1/bots/demo/messages/` as an integrator's client would (staff, Basic
        auth). Safe to call from several threads at once."""
        body: dict[str, object] = {"text": text, "participant": participant, "wait": wait}
        if room is not None:
            body["room"] = room
        return httpx.post(
            f"http://127.0.0.1:{self.port}/api/v1/bots/demo/messages/",
            json=body,
            auth=INTEGRATOR,
            timeout=30,
        )

    def api_get(self, path: str, **params: object) -> httpx.Response:
        """`GET /api/v1/<path>` as the integrator."""
        return httpx.get(
            f"http://127.0.0.1:{self.port}/api/v1/{path}",
            params=params,  # type: ignore[arg-type]
            auth=INTEGRATOR,
            timeout=30,
        )

    def staff_cookie(self) -> str:
        """A `Cookie` header of the integrator's session, logged in through the admin's form
        (the cookies are Secure with DEBUG off, so they are passed on by hand)."""
        base = f"http://127.0.0.1:{self.port}/admin/login/"
        form = httpx.get(base, timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None, form.text
        csrf = form.cookies["csrftoken"]
        login = httpx.post(
            base,
            data={
                "username": INTEGRATOR[0],
                "password": INTEGRATOR[1],
                "csrfmiddlewaretoken": token[1],
            },
            headers={"Cookie": f"csrftoken={csrf}", "Referer": base},
            timeout=30,
        )
        assert login.status_code == 302, login.text
        return f"sessionid={login.cookies['sessionid']}"

    def web_stop(self) -> list[str]:
        """Stop daphne, as a deploy does; returns its command, for `web_start`."""
        web = next(p for p in self.processes if p.name.startswith("daphne"))
        web.stop()
        self.processes.remove(web)
        return list(web.popen.args)

    def web_start(self, command: list[str]) -> None:
        """daphne again on the same port, as it was."""
        again = start(f"daphne-{len(self.processes)}", command, self.env, self.logs)
        self.processes.insert(0, again)
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{self.port}/readyz"),
            timeout=60,
            what="daphne to be ready again",
            watch=[again],
        )

    def worker_start(self, name: str = "worker") -> Process:
        celery = [sys.executable, "-m", "celery", "-A", "botsite"]
        worker = start(name, [*celery, "worker", "-l", "INFO", "-c", "2"], self.env, self.logs)
        self.processes.append(worker)
        wait_until(
            lambda: "ready." in worker.log(),
            timeout=60,
            what=f"the Celery {name} to be ready",
            watch=[worker],
        )
        return worker


@pytest.fixture
def topology(transactional_db, services_env, tmp_path) -> Iterator[Topology]:
    yield from _topology_run(services_env, tmp_path)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, which it may kill and start again."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def topology_own_redis(transactional_db, services_env, own_redis, tmp_path) -> Iterator[Topology]:
    """The topology with `own_redis` as broker, channel layer and cache, and no worker yet:
    the test starts it (`worker_start`) with the settings it needs, and never stops it."""
    env = {**services_env, "REDIS_URL": own_redis.url()}
    yield from _topology_run(env, tmp_path, is_worker_started=False)


def _topology_run(
    services_env: dict[str, str], tmp_path: Path, *, is_worker_started: bool = True
) -> Iterator[Topology]:
    demo_install()
    get_user_model().objects.create_superuser(INTEGRATOR[0], password=INTEGRATOR[1])
    yield from _processes_run(services_env, tmp_path, is_worker_started=is_worker_started)


def _processes_run(
    services_env: dict[str, str], tmp_path: Path, *, is_worker_started: bool = True
) -> Iterator[Topology]:
    """daphne, beat and (unless told not to) a worker on the database and Redis that
    `services_env` names, which has the demo bot and `INTEGRATOR`; stopped afterwards."""
    port = free_port()
    celery = [sys.executable, "-m", "celery", "-A", "botsite"]
    processes = [
        start(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                # As in the Dockerfile: frames over the limit close with 1009 while read.
                "--websocket-max-message-size",
                "65536",
                "--websocket-max-frame-size",
                "65536",
                "botsite.asgi:application",
            ],
            services_env,
            tmp_path,
        ),
        start(
            "beat",
            [*celery, "beat", "-l", "INFO", "-s", str(tmp_path / "beat")],
            services_env,
            tmp_path,
        ),
    ]
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/readyz"),
            timeout=60,
            what="daphne to be ready (database, Redis, broker)",
            watch=processes,
        )
        system = Topology(port=port, env=services_env, logs=tmp_path, processes=processes)
        if is_worker_started:
            system.worker_start()
        yield system
    finally:
        # Every process is stopped, even after one that would not stop: a beat left
        # running sends tasks into the next test's broker.
        refusals = []
        for process in processes:
            try:
                process.stop(timeout=30)
            except AssertionError as refusal:
                refusals.append(str(refusal))
        if refusals:
            raise AssertionError("\n\n".join(refusals))


_DEMO_AND_INTEGRATOR_INSTALL = (
    "from django.contrib.auth import get_user_model; from chat.demo import demo_install; "
    "demo_install(); "
    f"get_user_model().objects.create_superuser({INTEGRATOR[0]!r}, password={INTEGRATOR[1]!r})"
)


@pytest.fixture
def topology_on_database(services_env, tmp_path) -> Callable[[str], AbstractContextManager]:
    """The topology on a database of the test's own (say a PostgreSQL cluster it stops and
    starts): `with topology_on_database(url) as system:` migrates that database, installs
    the demo bot and the integrator there, then starts the processes."""

    @contextmanager
    def running(database_url: str) -> Iterator[Topology]:
        env = {
            **services_env,
            "DATABASE_URL": database_url,
            "BOTSITE_DATA_DIR": str(tmp_path / "data"),
        }
        for step in (
            ["migrate", "--noinput", "-v", "0"],
            ["shell", "-c", _DEMO_AND_INTEGRATOR_INSTALL],
        ):
            done = run_manage(*step, env=env)
            assert done.returncode == 0, f"manage.py {step[0]} failed:\n{done.stderr}"
        yield from _processes_run(env, tmp_path)

    return running
