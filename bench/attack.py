"""A bystander's latency while one address attacks with many sockets, each within its own
flood allowance; with the per-address limits and without them, alternating.

    DATABASE_URL=... REDIS_URL=... python -m bench.attack      # --smoke for a quick check

Serves the product from one daphne on PostgreSQL and Redis (flushes that Redis database
first). The bystander, from 127.0.0.2, sends `!ping` in a closed loop: first alone, then
while `--sockets` sockets from 127.0.0.1 each say `!ping` once a second (the default
per-socket flood allowance; the guard itself is lifted for the bystander's ten a second), a
refused socket trying again a second later. Prints one JSON object per
phase.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from bench.load import percentile
from bench.run import bench_start, daphne_start
from botsite.tests.processes import free_port
from botsite.tests.subprocess_env import run_manage

PING = json.dumps({"type": "message", "text": "!ping"})


async def round_trips(ws: ClientConnection, seconds: float) -> dict[str, Any]:
    """The bystander's `!ping`s, one every 0.1 s after the last answer, for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        await ws.send(PING)
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "error":
                raise RuntimeError(f"the bystander was refused: {frame}")
            if frame.get("type") == "message" and frame["sender"]["kind"] == "bot":
                break
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.1)
    return {
        "bystander_round_trips": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p90_ms": round(percentile(latencies, 0.9), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
    }


class Attack:
    def __init__(self, url: str, origin: str, sockets: int, retry_seconds: float) -> None:
        self.url, self.origin, self.sockets = url, origin, sockets
        self.retry_seconds = retry_seconds
        self.open = self.refused = self.sent = 0
        self.stopping = False

    async def one(self) -> None:
        while not self.stopping:
            # A refused socket (4430, or a failed handshake) tries again a second later.
            with contextlib.suppress(OSError, TimeoutError, WebSocketException):
                async with connect(self.url, origin=self.origin, open_timeout=30) as ws:
                    self.open += 1
                    try:
                        await ws.send(json.dumps({"type": "hello"}))
                        while not self.stopping:
                            await ws.send(PING)
                            self.sent += 1
                            await asyncio.sleep(1)
                            while True:  # drain what came, without waiting
                                try:
                                    await asyncio.wait_for(ws.recv(), 0.001)
                                except TimeoutError:
                                    break
                    finally:
                        self.open -= 1
            self.refused += 1
            await asyncio.sleep(self.retry_seconds)

    async def run_while(self, measured: asyncio.Future[dict[str, Any]]) -> dict[str, Any]:
        tasks = []
        for start in range(0, self.sockets, 100):  # a hundred handshakes at a time
            tasks += [
                asyncio.create_task(self.one())
                for _ in range(start, min(self.sockets, start + 100))
            ]
            await asyncio.sleep(0.2)
        result = await measured
        self.stopping = True
        await asyncio.gather(*tasks, return_exceptions=True)
        return result


async def phases(
    url: str, origin: str, sockets: int, seconds: float, retry_seconds: float, settle_seconds: float
) -> list[dict[str, Any]]:
    # The bystander's chat is open before the attack, as a visitor's page would be.
    async with connect(url, origin=origin, local_addr=("127.0.0.2", 0), open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        while json.loads(await ws.recv()).get("type") != "welcome":
            continue
        idle = {"phase": "idle", **await round_trips(ws, seconds)}
        attack = Attack(url, origin, sockets, retry_seconds)

        async def measured_after_ramp() -> dict[str, Any]:
            await asyncio.sleep(sockets / 100 * 0.2 + settle_seconds)
            result = await round_trips(ws, seconds)
            return result | {"attack_open_sockets": attack.open, "attack_refusals": attack.refused}

        under = await attack.run_while(asyncio.ensure_future(measured_after_ramp()))
    phase = f"{sockets} sockets from one address, retrying every {retry_seconds:g} s"
    return [idle, {"phase": phase, **under, "attack_sent": attack.sent}]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle-seconds", type=float, default=3.0,
                        help="from the last handshake sent to the measurement")  # fmt: skip
    parser.add_argument("--retry-seconds", type=float, default=1.0,
                        help="how soon a refused attacking socket tries again")  # fmt: skip
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("bench.attack needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    sockets, seconds, rounds = (
        (30, 2.0, 1) if args.smoke else (args.sockets, args.seconds, args.rounds)
    )
    data = tempfile.mkdtemp()
    env = bench_start(
        BOTSITE_DATA_DIR=data,
        # The bystander sends ten a second; each attacking socket keeps to one a second, the
        # default per-socket allowance, by itself.
        CHAT_FLOOD_BURST="1000000",
        CHAT_FLOOD_PER_SECOND="1000000",
    )
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    for command in (("migrate", "--noinput", "-v", "0"), ("demo_setup",)):
        result = run_manage(*command, env=env)
        if result.returncode:
            raise SystemExit(result.stderr)
    limits_off = {"CHAT_ADDRESS_MAX_SOCKETS": "0", "CHAT_ADDRESS_FLOOD_BURST": "0"}
    results = []
    for _ in range(rounds):
        for label, extra in (
            ("without the limits", limits_off),
            ("with the limits (defaults)", {}),
        ):
            port = free_port()
            server = daphne_start({**env, **extra}, Path(data), port)
            try:
                url, origin = f"ws://127.0.0.1:{port}/ws/chat/demo/", f"http://127.0.0.1:{port}"
                for phase in asyncio.run(
                    phases(url, origin, sockets, seconds, args.retry_seconds, args.settle_seconds)
                ):
                    row = {"server": label, **phase}
                    print(json.dumps(row), flush=True)
                    results.append(row)
            finally:
                server.stop(signal.SIGTERM)
    return results


if __name__ == "__main__":
    main()
