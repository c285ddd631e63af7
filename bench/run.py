"""Run the benchmarks: the product beside its bare baselines, on one daphne, one channel
layer and one Redis, in one run. Needs DATABASE_URL (PostgreSQL) and REDIS_URL.

    python -m bench.run                 # the figures in BENCHMARKS.md
    python -m bench.run --smoke         # seconds, to check that the harness works

Give it a PostgreSQL database and a Redis database of its own: it flushes that Redis
database first. Writes bench/results/<time>.json and prints a table. Timings depend on
the machine; only ratios within one run mean anything.
"""

import argparse
import json
import os
import resource
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench import load, rest
from botsite.tests.processes import Process, free_port, http_ok, start, wait_until
from botsite.tests.subprocess_env import REPO, clean_env, run_manage

RESULTS = REPO / "bench" / "results"
#: Worker processes for the queued paths, product and baseline (c) alike; Celery's own
#: default (one per core) unless BENCH_WORKER_CONCURRENCY says otherwise.
WORKER_CONCURRENCY = os.environ.get("BENCH_WORKER_CONCURRENCY", "2")
CHAT = "/ws/chat/demo/"


def daphne_start(env: dict[str, str], logs: Path, port: int) -> Process:
    daphne = start(
        "daphne",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "--websocket-max-message-size", "65536", "bench.asgi:application"],
        env,
        logs,
    )  # fmt: skip
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), timeout=60,
               what="daphne", watch=[daphne])  # fmt: skip
    return daphne


def system_start(env: dict[str, str], logs: Path) -> tuple[int, list[Process]]:
    port = free_port()
    daphne = daphne_start(env, logs, port)
    worker = start(
        "worker",
        [sys.executable, "-m", "celery", "-A", "botsite", "worker", "-l", "INFO",
         "-I", "bench.tasks", "-c", WORKER_CONCURRENCY],
        env,
        logs,
    )  # fmt: skip
    wait_until(lambda: "ready" in worker.log() or (worker.popen.poll() is None and time.sleep(1)),
               timeout=10, what="worker", watch=[worker])  # fmt: skip
    return port, [daphne, worker]


Scenario = tuple[str, str, list[str]]


def closed(name: str, path: str, connections: int, seconds: str, *chat: str) -> Scenario:
    return (name, path, [*chat, "--connections", str(connections), "--seconds", seconds])


def scenarios(smoke: bool) -> list[Scenario]:
    seconds = "1" if smoke else "15"
    many = 20 if smoke else 500
    idle = "50" if smoke else os.environ.get("BENCH_IDLE_CONNECTIONS", "10000")
    inline, queued = ("--chat", "!ping"), ("--chat", "!latest-post")
    at_200 = ["--mode", "rate", "--rate", "200", "--connections", "50", "--seconds", seconds]
    held = ["--mode", "idle", "--connections", idle, "--seconds", "3"]
    return [
        closed("(a) echo, closed loop, 50", "/ws/bench/echo/", 50, seconds),
        closed("(b) room group, closed loop, 1", "/ws/bench/group/", 1, seconds),
        closed("inline action, closed loop, 1", CHAT, 1, seconds, *inline),
        closed("(b) room group, closed loop, 50", "/ws/bench/group/", 50, seconds),
        closed("inline action, closed loop, 50", CHAT, 50, seconds, *inline),
        closed("(c) Celery task, closed loop, 50", "/ws/bench/celery/", 50, seconds),
        closed("queued action, closed loop, 50", CHAT, 50, seconds, *queued),
        ("(b) room group, 200 msg/s, 50", "/ws/bench/group/", at_200),
        ("inline action, 200 msg/s, 50", CHAT, [*inline, *at_200]),
        closed(f"(b) room group, closed loop, {many}", "/ws/bench/group/", many, seconds),
        closed(f"inline action, closed loop, {many}", CHAT, many, seconds, *inline),
        (f"(a) echo, {idle} idle", "/ws/bench/echo/", held),
        (f"chat, {idle} idle after hello", CHAT, ["--chat", "", *held]),
    ]


def rest_scenarios(smoke: bool) -> list[tuple[str, str, list[str]]]:
    """The REST conversation endpoint with an inline action beside the bare DRF view (d)."""
    seconds = "1" if smoke else "15"
    chat = '{"text": "!ping", "participant": "bench-{n}"}'
    runs = []
    for connections in ("1", "10"):
        options = ["--connections", connections, "--seconds", seconds]
        runs += [
            (f"(d) REST bare DRF view, closed loop, {connections}", "/bench/drf/",
             ["--body", chat, *options]),
            (f"REST inline action, closed loop, {connections}", "/api/v1/bots/demo/messages/",
             ["--body", chat, "--replies", *options]),
        ]  # fmt: skip
    return runs


def bench_start(**overrides: str) -> dict[str, str]:
    """Ready this process for many sockets and a stop by SIGTERM; the servers' environment."""
    # A run stopped with SIGTERM stops its servers too (the callers' `finally`): a worker
    # left behind would take the next run's tasks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the load needs many sockets
    return clean_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        # Production settings: DEBUG keeps every SQL query in memory, which is not the product.
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        **overrides,
    )


def main() -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", help="run the scenarios whose name contains this")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("bench.run needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    env = bench_start(
        # The load comes from one address: the product's per-socket flood guard and any
        # bot rate limits would measure themselves, not the path.
        CHAT_FLOOD_BURST="1000000",
        CHAT_FLOOD_PER_SECOND="1000000",
        CHAT_ADDRESS_MAX_SOCKETS="0",
        CHAT_ADDRESS_FLOOD_BURST="0",
        API_THROTTLE_BURST="1000000",
        API_THROTTLE_PER_MINUTE="1000000",
    )
    # Tasks left in the broker by an interrupted run would be measured with this one.
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    for command in (("migrate", "--noinput", "-v", "0"), ("demo_setup",)):
        result = run_manage(*command, env=env)
        if result.returncode:
            raise SystemExit(result.stderr)
    # Statistics as autovacuum keeps them on a production server. Without them (a server
    # with autovacuum off, or tables grown since) PostgreSQL joins the message path's
    # lookup through the bot alone and filters every room of the bot, per message.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as database:
        database.execute("ANALYZE")
    made = run_manage("api_token_create", "--user", "admin", "--bot", "demo", "--scope", "write",
                      env=env)  # fmt: skip
    if made.returncode:
        raise SystemExit(made.stderr)
    token = made.stdout.strip()
    logs = RESULTS / "logs"
    port, processes = system_start(env, logs)
    results = []
    try:
        for name, path, options in scenarios(args.smoke):
            if args.only and args.only not in name:
                continue
            extra = []
            if "idle" in name:
                # A fresh server: memory freed by earlier scenarios stays in the process
                # and would be counted as the new connections' own.
                processes[0].stop(signal.SIGTERM)
                processes[0] = daphne_start(env, logs, port)
                extra = ["--server-pid", str(processes[0].popen.pid)]
            result = load.main([f"ws://127.0.0.1:{port}{path}", "--origin",
                                f"http://127.0.0.1:{port}", *options, *extra])  # fmt: skip
            results.append({"scenario": name, **result})
            print(f"{name}: {json.dumps(result)}", file=sys.stderr)
            time.sleep(0 if args.smoke else 5)  # let queues drain between scenarios
        for name, path, options in rest_scenarios(args.smoke):
            if args.only and args.only not in name:
                continue
            result = rest.main([f"http://127.0.0.1:{port}{path}", "--token", token, *options])
            results.append({"scenario": name, **result})
            print(f"{name}: {json.dumps(result)}", file=sys.stderr)
            time.sleep(0 if args.smoke else 2)
    finally:
        for process in processes:
            # SIGTERM, not Ctrl-C's SIGINT: a run started in the background ignores SIGINT,
            # and a worker left behind would take the next run's tasks.
            process.stop(signal.SIGTERM)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}{'-smoke' if args.smoke else ''}.json").write_text(
        json.dumps(results, indent=2)
    )
    return results


if __name__ == "__main__":
    main()
