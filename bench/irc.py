"""A bot on IRC through the bridge, beside a bare IRC echo bot on the same server.

    python -m bench.irc             # the figures in BENCHMARKS.md
    python -m bench.irc --smoke     # seconds, to check that the harness works

Needs DATABASE_URL (PostgreSQL), REDIS_URL and Debian's ngircd. Starts ngircd, daphne, a
worker and a bridge process (`python -m bridge`) on loopback, with the demo bot on an IRC
connector whose pacing is raised (a server of our own; public networks get the default).
People are clients of the `irc` library, each in a private conversation with the bot:
`!ping`, and the bot's `pong` back. The baseline, (e), is an echo bot written with the same
library, answering `pong` to `!ping` itself on the same ngircd: the server and the clients
alone. Closed loop: each person sends again when answered. Open loop: messages at a fixed
total rate, spread over the people, latency from each send to its answer.
"""

import argparse
import json
import os
import secrets
import sys
import threading
import time
from collections import deque
from typing import Any

import irc.client
import redis
from cryptography.fernet import Fernet

from bench.results import RESULTS, results_write
from bench.run import bench_start, system_start
from botsite.tests.processes import Process, start, wait_until
from botsite.tests.subprocess_env import run_manage, run_python
from bridge.tests.ircd import Ngircd

BOT = "botsite"


class Person:
    """One client, alone with a bot in private; the bot's answers come back in order."""

    def __init__(self, port: int, nick: str, bot: str) -> None:
        self.bot, self.nick = bot, nick
        self.reactor = irc.client.Reactor()
        self.connection = self.reactor.server().connect("127.0.0.1", port, nick)
        self.connection.add_global_handler("privmsg", self._answer)
        self.sent: deque[float] = deque()
        self.latencies: list[float] = []
        self.answered = threading.Event()
        self.lock = threading.Lock()

    def run_reactor(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.reactor.process_once(timeout=0.05)

    def _answer(self, connection: object, event: irc.client.Event) -> None:
        if event.source.nick != self.bot or event.arguments[0] != "pong":
            return
        with self.lock:
            if self.sent:
                self.latencies.append(time.perf_counter() - self.sent.popleft())
        self.answered.set()

    def ping(self) -> None:
        with self.lock:
            self.sent.append(time.perf_counter())
        self.answered.clear()
        self.connection.privmsg(self.bot, "!ping")


def echo_bot(port: int, stop: threading.Event) -> None:
    """(e): answers `!ping` with `pong` in private, nothing else."""
    reactor = irc.client.Reactor()
    connection = reactor.server().connect("127.0.0.1", port, "echobot")

    def answer(conn: Any, event: irc.client.Event) -> None:
        if event.arguments[0] == "!ping":
            conn.privmsg(event.source.nick, "pong")

    connection.add_global_handler("privmsg", answer)
    while not stop.is_set():
        reactor.process_once(timeout=0.05)


def measure(port: int, bot: str, *, people: int, seconds: float, rate: float | None) -> dict:
    stop = threading.Event()
    crowd = [Person(port, f"p{n}x{secrets.token_hex(2)}", bot) for n in range(people)]
    threads = [threading.Thread(target=p.run_reactor, args=(stop,), daemon=True) for p in crowd]
    for thread in threads:
        thread.start()
    # Warm-up: each person once, answered, before anything is counted.
    for person in crowd:
        person.ping()
    for person in crowd:
        person.answered.wait(30)
    for person in crowd:
        person.latencies.clear()
    started = time.perf_counter()
    deadline = started + seconds
    if rate is None:
        while time.perf_counter() < deadline:
            for person in crowd:
                if person.answered.is_set() or not person.sent:
                    person.ping()
            time.sleep(0.0005)
    else:
        interval, n = 1 / rate, 0
        while time.perf_counter() < deadline:
            crowd[n % people].ping()
            n += 1
            time.sleep(max(0.0, started + n * interval - time.perf_counter()))
    elapsed = time.perf_counter() - started
    time.sleep(2)  # the last answers
    stop.set()
    latencies = sorted(ms * 1000 for person in crowd for ms in person.latencies)
    unanswered = sum(len(person.sent) for person in crowd)
    for person in crowd:
        person.connection.disconnect("done")

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "people": people,
        "answered": len(latencies),
        "unanswered": unanswered,
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.5) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
    }


def main() -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--people", type=int, default=20)
    args = parser.parse_args()
    token = secrets.token_urlsafe(32)
    env = bench_start(
        BRIDGE_TOKEN=token,
        CONNECTOR_SECRET_KEYS=Fernet.generate_key().decode(),
        CHAT_ADDRESS_MAX_SOCKETS="0",
    )
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    for command in (("migrate", "--noinput", "-v", "0"), ("demo_setup",)):
        result = run_manage(*command, env=env)
        if result.returncode:
            raise SystemExit(result.stderr)
    logs = RESULTS / "logs-irc"
    ircd = Ngircd(logs / "ircd", logs, penalties=False)
    ircd.start()
    env["HTTP_ALLOWED_HOSTS"] = f"127.0.0.1:{ircd.port}"  # a server of our own, allowed
    processes: list[Process] = []
    results = []
    seconds = 3 if args.smoke else 30
    try:
        stop = threading.Event()
        threading.Thread(target=echo_bot, args=(ircd.port, stop), daemon=True).start()
        port, processes = system_start(env, logs)
        config = {
            "host": "127.0.0.1", "port": ircd.port, "tls": False, "nick": BOT,
            "channels": [], "lines_per_second": 1000, "burst": 1000,
        }  # fmt: skip
        made = run_python(
            "import django\ndjango.setup()\n"
            "from conversations.models import Bot, Connector\n"
            "Connector.objects.filter(name='bench').delete()\n"
            f"c = Connector(bot=Bot.objects.get(slug='demo'), kind='irc', name='bench', "
            f"config={config!r})\nc.full_clean()\nc.save()\n",
            env,
        )
        if made.returncode:
            raise SystemExit(made.stderr)
        bridge = start(
            "bridge",
            [sys.executable, "-m", "bridge"],
            {
                **env,
                "BRIDGE_BOTSITE_URL": f"ws://127.0.0.1:{port}",
                "LOG_LEVEL": os.environ.get("BENCH_BRIDGE_LOG_LEVEL", "INFO"),
            },
            logs,
        )
        processes.append(bridge)
        wait_until(lambda: "holding connector" in bridge.log(), timeout=30, what="the bridge",
                   watch=[bridge])  # fmt: skip
        time.sleep(6)  # the bot registered on ngircd
        for name, bot, rate in [
            (f"(e) bare IRC echo bot, closed loop, {args.people}", "echobot", None),
            (f"bot through the bridge, closed loop, {args.people}", BOT, None),
            (f"(e) bare IRC echo bot, 100 msg/s, {args.people}", "echobot", 100.0),
            (f"bot through the bridge, 100 msg/s, {args.people}", BOT, 100.0),
        ]:
            result = measure(ircd.port, bot, people=args.people, seconds=seconds, rate=rate)
            results.append({"scenario": name, **result})
            print(f"{name}: {json.dumps(result)}", file=sys.stderr)
        stop.set()
    finally:
        for process in processes:
            process.stop()
        ircd.stop()
    results_write("irc-", results, smoke=args.smoke)
    return results


if __name__ == "__main__":
    main()
