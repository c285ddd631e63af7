"""Slow runs in one room: when each message of a room is answered, with real daphne, two
workers and beat on PostgreSQL and Redis. Needs DATABASE_URL (PostgreSQL) and REDIS_URL.

    python -m bench.room_turns              # !slow x3 + !ping, then !slow x8
    python -m bench.room_turns --smoke      # one short scenario, to check the harness

`!slow` calls a local HTTP endpoint that answers after `--slow-seconds` (3 by default);
the messages of a scenario are sent at once over one chat socket (one room). Ideal: the
n-th slow reply at n x 3 s, `!ping` with the last. The sweeper keeps its production
defaults (every 30 s, runs stuck for 60 s), as a run left behind would meet them.
Writes bench/results/room-turns-<time>.json and prints one JSON line per scenario.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from bench import fanout, run
from bench.results import RESULTS, results_write
from botsite.tests.processes import Process, chat_socket, free_port, start, wait_until


class SlowEndpoint(BaseHTTPRequestHandler):
    seconds = 3.0

    def do_GET(self) -> None:
        time.sleep(SlowEndpoint.seconds)
        body = b'{"answer": "done"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def endpoint_serve() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/slow"


def environment() -> dict[str, str]:
    # The fan-out benchmark's production settings, plus what the chat and the endpoint need.
    return {
        **fanout.environment(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "HTTP_ALLOWED_HOSTS": "127.0.0.1",
        "CHANNEL_LAYER_PREFIX": "bench-room-turns",
    }


def slow_command(url: str) -> None:
    from actions.models import Action, Command
    from conversations.models import Bot

    bot = Bot.objects.get(slug="demo")
    action, _ = Action.objects.update_or_create(
        bot=bot,
        name="slow",
        defaults={
            "kind": "http_json",
            "config": {"url": url, "fields": {"answer": "answer"}, "reply": "slow: {answer}"},
        },
    )
    Command.objects.update_or_create(bot=bot, word="slow", defaults={"action": action})


def room_answered(port: int, texts: list[str], timeout: float) -> list[float]:
    """Send the texts at once over one socket; seconds until each bot reply, in order."""
    with chat_socket(port) as chat:
        chat.send('{"type": "hello"}')
        chat.recv(timeout=10)  # welcome
        started = time.monotonic()
        for text in texts:
            chat.send(json.dumps({"type": "message", "text": text}))
        answered: list[float] = []
        deadline = started + timeout
        while len(answered) < len(texts) and (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(chat.recv(timeout=remaining))
            except TimeoutError:
                break
            if frame.get("type") == "message" and frame["sender"]["kind"] == "bot":
                answered.append(round(time.monotonic() - started, 2))
    return answered


def processes_start(env: dict[str, str], logs: Path) -> tuple[int, list[Process]]:
    port = free_port()
    celery = [sys.executable, "-m", "celery", "-A", "botsite"]
    daphne = run.daphne_start(env, logs, port)
    processes = [
        daphne,
        start(
            "turns-beat", [*celery, "beat", "-l", "INFO", "-s", str(logs / "turns-beat")], env, logs
        ),
        *(
            start(f"turns-worker-{n}", [*celery, "worker", "-l", "INFO", "-c", "2"], env, logs)
            for n in (1, 2)
        ),
    ]
    for worker in processes[2:]:
        wait_until(
            lambda w=worker: "ready." in w.log(), timeout=60, what=worker.name, watch=processes
        )
    return port, processes


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    SlowEndpoint.seconds = 0.5 if args.smoke else args.slow_seconds
    env = environment()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botsite.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from chat.demo import demo_install

    call_command("migrate", "--noinput", verbosity=0)
    demo_install()
    slow_command(endpoint_serve())
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    scenarios = (
        {"!slow x2 + !ping": ["!slow"] * 2 + ["!ping"]}
        if args.smoke
        else {
            "!slow x3 + !ping": ["!slow"] * 3 + ["!ping"],
            "!slow x8": ["!slow"] * 8,
        }
    )
    port, processes = processes_start(env, RESULTS / "logs")
    try:
        results = [scenario_measure(port, processes, name, texts, smoke=args.smoke)
                   for name, texts in scenarios.items()]  # fmt: skip
    finally:
        for process in processes:
            process.stop()
    results_write("room-turns-", results, smoke=args.smoke)
    return results


def scenario_measure(
    port: int, processes: list[Process], name: str, texts: list[str], *, smoke: bool
) -> dict[str, Any]:
    answered = room_answered(port, texts, timeout=20 if smoke else 600)
    result = {
        "scenario": name,
        "slow_seconds": SlowEndpoint.seconds,
        "answered_s": answered,
        "unanswered": len(texts) - len(answered),
        "ideal_last_s": texts.count("!slow") * SlowEndpoint.seconds,
        "max_retries_exceeded": sum(p.log().count("MaxRetriesExceededError") for p in processes),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
