"""Server memory under oversized request bodies: concurrent POSTs far over the cap.

    python -m bench.bodies                       # 10 posts of 10 MB and of 100 MB at once
    python -m bench.bodies --source DIR          # serve another checkout (the code before)
    python -m bench.bodies --smoke

Starts one daphne on the embedded settings (the body cap needs no services) in a data
directory of its own, sends `--posts` multipart bodies at once, each with a Content-Length
and each chunked, and samples the server's resident memory while they run. Prints one JSON
object per case: the server's memory before, its peak, the growth, and the answers.
"""

import argparse
import json
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.load import rss_kib
from botsite.tests.processes import Process, free_port, http_ok, wait_until
from botsite.tests.subprocess_env import REPO, clean_env

MB = 1024 * 1024
PIECE = b"x" * 65536


def post(port: int, size: int, *, is_chunked: bool, answers: list[str]) -> None:
    """One multipart POST to /healthz, sent as fast as the server takes it."""
    framing = b"Transfer-Encoding: chunked" if is_chunked else f"Content-Length: {size}".encode()
    head = (
        b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=bench\r\n" + framing + b"\r\n\r\n"
    )
    frame = b"10000\r\n" + PIECE + b"\r\n" if is_chunked else PIECE
    with socket.create_connection(("127.0.0.1", port), timeout=120) as client:
        client.sendall(head)
        for _ in range(size // len(PIECE)):
            readable, _, _ = select.select([client], [], [], 0)
            if readable:
                break  # answered before the end of the body
            try:
                client.sendall(frame)
            except OSError:
                break
        else:
            if is_chunked:
                client.sendall(b"0\r\n\r\n")
        try:
            answers.append(client.recv(100).split(b"\r\n", 1)[0].decode())
        except OSError as error:
            answers.append(type(error).__name__)


def case(server: Process, port: int, posts: int, size: int, is_chunked: bool) -> dict[str, Any]:
    before = rss_kib(server.popen.pid)
    peak = before
    answers: list[str] = []
    senders = [
        threading.Thread(
            target=post, args=(port, size), kwargs={"is_chunked": is_chunked, "answers": answers}
        )
        for _ in range(posts)
    ]
    started = time.perf_counter()
    for sender in senders:
        sender.start()
    while any(sender.is_alive() for sender in senders):
        peak = max(peak, rss_kib(server.popen.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    time.sleep(0.5)
    return {
        "posts": posts,
        "body_mb": size // MB,
        "framing": "chunked" if is_chunked else "content-length",
        "rss_before_kib": before,
        "rss_peak_kib": peak,
        "growth_kib": peak - before,
        "rss_after_kib": rss_kib(server.popen.pid),
        "seconds": round(elapsed, 2),
        "answers": sorted(set(answers)),
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout to serve")
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--sizes-mb", default="10,100", help="body sizes, comma-separated")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    sizes = [2] if args.smoke else [int(size) for size in args.sizes_mb.split(",")]
    posts = 2 if args.smoke else args.posts
    results = []
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = clean_env(BOTSITE_DATA_DIR=data, LOG_LEVEL="WARNING")
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "botsite.asgi:application"]  # fmt: skip
        log = Path(data) / "daphne.log"
        popen = subprocess.Popen(command, cwd=args.source, env=env, stdin=subprocess.DEVNULL,  # noqa: S603
                                 stdout=log.open("w"), stderr=subprocess.STDOUT,
                                 start_new_session=True)  # fmt: skip
        server = Process(name="daphne", popen=popen, log_path=log)
        try:
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=60,
                       what="daphne", watch=[server])  # fmt: skip
            for size in sizes:
                for is_chunked in (False, True):
                    result = {
                        "source": str(args.source),
                        **case(server, port, posts, size * MB, is_chunked),
                    }
                    print(json.dumps(result), flush=True)
                    results.append(result)
        finally:
            server.stop()
    return results


if __name__ == "__main__":
    main()
