"""An HTTP load generator for the REST API: closed loop, each connection posts a JSON body
and waits for the answer before posting again; reports requests per second and latency.

    python -m bench.rest URL --token bst_… --body '{"text": "!ping", "participant": "p{n}"}'

`{n}` in the body becomes the connection's number (one participant per connection). A
request counts when it answers 200 (and, with --replies, carries at least one reply).
"""

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from bench.load import summary


async def closed_loop(args: argparse.Namespace) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    error_kinds: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=args.connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=args.timeout) as client:
        deadline = time.perf_counter() + args.seconds

        async def drive(index: int) -> None:
            nonlocal errors

            def failed(kind: str) -> None:
                nonlocal errors
                errors += 1
                error_kinds[kind] = error_kinds.get(kind, 0) + 1

            body = args.body.replace("{n}", str(index)).encode()
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    answer = await client.post(args.url, content=body)
                except httpx.HTTPError as error:
                    failed(type(error).__name__)
                    continue
                if answer.status_code != 200:
                    failed(str(answer.status_code))
                    continue
                if args.replies and not answer.json()["replies"]:
                    failed("no reply")
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(drive(index) for index in range(args.connections)))
        elapsed = time.perf_counter() - started
    return {**summary(args, latencies, errors, elapsed), "error_kinds": error_kinds}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--token", required=True)
    parser.add_argument("--body", default='{"text": "!ping", "participant": "bench-{n}"}')
    parser.add_argument("--replies", action="store_true", help="count only answers with replies")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args(argv)
    args.mode = "closed"
    result = asyncio.run(closed_loop(args))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
