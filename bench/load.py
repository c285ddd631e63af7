"""A WebSocket load generator.

Modes:
- closed: each connection sends, waits for its answer, sends again, for `--seconds`;
  reports round trips per second and latency percentiles.
- rate: the connections together send `--rate` messages per second (open loop, spread
  evenly); reports latency percentiles at that rate.
- idle: open `--connections` sockets and hold them; with `--server-pid`, reports the
  server's resident memory per connection.

A round trip ends at the first frame that answers: for baselines any frame, for the chat
(`--chat`) the bot's reply to that message. Prints one JSON object.
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Client:
    def __init__(self, url: str, origin: str, chat_text: str | None) -> None:
        self.url, self.origin, self.chat_text = url, origin, chat_text
        self.socket: ClientConnection | None = None

    async def open(self) -> None:
        self.socket = await connect(self.url, origin=self.origin, max_queue=None)
        if self.chat_text is not None:
            await self.socket.send(json.dumps({"type": "hello"}))
            while json.loads(await self.socket.recv()).get("type") != "welcome":
                continue

    def payload(self) -> str:
        if self.chat_text is None:
            return "x" * 32
        return json.dumps({"type": "message", "text": self.chat_text})

    def _open_socket(self) -> ClientConnection:
        if self.socket is None:
            raise RuntimeError("open() the client first")
        return self.socket

    async def answered(self) -> None:
        socket = self._open_socket()
        while True:
            frame = await socket.recv()
            if self.chat_text is None:
                return
            data = json.loads(frame)
            if data.get("type") == "message" and data["sender"]["kind"] == "bot":
                return
            if data.get("type") == "error":
                raise RuntimeError(data)

    async def round_trip(self) -> float:
        socket = self._open_socket()
        started = time.perf_counter()
        await socket.send(self.payload())
        await self.answered()
        return time.perf_counter() - started


async def open_all(args: argparse.Namespace) -> list[Client]:
    """Open the connections, a hundred handshakes at a time; failed ones are left out."""
    clients = [Client(args.url, args.origin, args.chat) for _ in range(args.connections)]
    for start in range(0, len(clients), 100):
        batch = clients[start : start + 100]
        await asyncio.gather(
            *(asyncio.wait_for(c.open(), args.timeout) for c in batch), return_exceptions=True
        )
    return [c for c in clients if c.socket is not None]


async def closed_loop(args: argparse.Namespace) -> dict[str, Any]:
    clients = await open_all(args)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + args.seconds

    async def drive(client: Client) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            try:
                latencies.append(await asyncio.wait_for(client.round_trip(), args.timeout))
            except Exception:
                errors += 1
                return

    started = time.perf_counter()
    await asyncio.gather(*(drive(c) for c in clients))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.socket.close() for c in clients if c.socket))
    return {**summary(args, latencies, errors, elapsed), "opened": len(clients)}


async def fixed_rate(args: argparse.Namespace) -> dict[str, Any]:
    clients = await open_all(args)
    latencies: list[float] = []
    errors = 0
    interval = len(clients) / args.rate  # each connection's period

    async def drive(index: int, client: Client) -> None:
        nonlocal errors
        await asyncio.sleep(index * interval / len(clients))  # spread the phases
        next_at = time.perf_counter()
        deadline = next_at + args.seconds
        while next_at < deadline:
            try:
                latencies.append(await asyncio.wait_for(client.round_trip(), args.timeout))
            except Exception:
                errors += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    started = time.perf_counter()
    await asyncio.gather(*(drive(i, c) for i, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.socket.close() for c in clients if c.socket))
    return {**summary(args, latencies, errors, elapsed), "opened": len(clients)}


async def idle(args: argparse.Namespace) -> dict[str, Any]:
    before = rss_kib(args.server_pid) if args.server_pid else None
    clients = await open_all(args)
    await asyncio.sleep(args.seconds)
    after = rss_kib(args.server_pid) if args.server_pid else None
    alive = sum(1 for c in clients if c.socket and c.socket.state.name == "OPEN")
    await asyncio.gather(*(c.socket.close() for c in clients if c.socket))
    result: dict[str, Any] = {"mode": "idle", "connections": args.connections, "alive": alive}
    result["failed_handshakes"] = args.connections - len(clients)
    if before is not None and after is not None:
        result |= {
            "server_rss_before_kib": before,
            "server_rss_after_kib": after,
            "kib_per_connection": round((after - before) / max(1, alive), 1),
        }
    return result


def summary(
    args: argparse.Namespace, latencies: list[float], errors: int, elapsed: float
) -> dict[str, Any]:
    ms = [value * 1000 for value in latencies]
    return {
        "mode": args.mode,
        "url": args.url,
        "connections": args.connections,
        "round_trips": len(ms),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rt_per_second": round(len(ms) / elapsed, 1) if elapsed else 0,
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--mode", choices=["closed", "rate", "idle"], default="closed")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200, help="messages/s in rate mode")
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--origin", help="default: the URL's own (ws://h:p → http://h:p)")
    parser.add_argument("--chat", metavar="TEXT", help="speak the chat protocol, sending TEXT")
    parser.add_argument("--server-pid", type=int, help="measure this process's memory (idle)")
    args = parser.parse_args(argv)
    if args.origin is None:  # the chat compares scheme, host and port exactly
        parts = urlsplit(args.url)
        args.origin = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    runner = {"closed": closed_loop, "rate": fixed_rate, "idle": idle}[args.mode]
    result = asyncio.run(runner(args))
    if args.mode != "idle":
        result["failed_handshakes"] = args.connections - result.pop("opened", args.connections)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
