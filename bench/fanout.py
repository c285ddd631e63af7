"""Fan-out benchmark: one post to N web chat subscriptions on PostgreSQL and Redis, timed
until every delivery is recorded and every message pushed to its room's channel group,
beside a plain bulk insert of the same number of rows on the same database in the same run;
then the delete of the N rooms with their subscriptions, deliveries and messages.
Needs DATABASE_URL (PostgreSQL) and REDIS_URL.

    python -m bench.fanout                  # 10,000 and 100,000 subscriptions
    python -m bench.fanout --smoke          # a few hundred, to check the harness works

Starts one Celery worker (2 processes, as in production on this machine), writes
bench/results/fanout-<time>.json and prints one JSON line per size.
"""

import argparse
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.results import RESULTS, results_write
from botsite.tests.processes import Process, start, wait_until
from botsite.tests.subprocess_env import clean_env

PREFIX = "bench-fanout"


def environment() -> dict[str, str]:
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise SystemExit("bench.fanout needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    return clean_env(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        # Production settings: DEBUG keeps every SQL query in memory, which is not the product.
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        # Pub/sub channels are shared by every Redis database: our own prefix, our own count.
        CHANNEL_LAYER_PREFIX=PREFIX,
        # The sweeper must not join in: this measures the fan-out path alone.
        DELIVERY_STUCK_SECONDS="3600",
    )


class PushCounter:
    """Counts the room-group messages published on Redis: what open sockets would get."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.count = 0
        self.is_open = True
        self.pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(f"{PREFIX}__group__room.*")
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while self.is_open:
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "pmessage":
                self.count += 1

    def close(self) -> None:
        self.is_open = False
        self.thread.join(timeout=5)
        self.pubsub.close()


def subscribers_make(publisher: Any, n: int) -> list[int]:
    from conversations.models import Room
    from publishers.models import Subscription

    rooms = Room.objects.bulk_create(
        (Room(bot_id=publisher.bot_id, connector="webchat", external_id=f"fanout-{i}")
         for i in range(n)),
        batch_size=5000,
    )  # fmt: skip
    Subscription.objects.bulk_create(
        (Subscription(publisher=publisher, destination="room", room=room) for room in rooms),
        batch_size=5000,
    )
    return [room.pk for room in rooms]


def baseline(publisher: Any, room_ids: list[int]) -> dict[str, float]:
    """Plain bulk inserts of the rows a fan-out writes: N deliveries, N messages."""
    from django.db import transaction

    from botsite.db import instance_delete, queryset_delete
    from conversations.models import Message
    from publishers.models import Delivery, Post, Subscription

    post = Post.objects.create(publisher=publisher, source_id="baseline", title="baseline")
    subscription_ids = list(
        Subscription.objects.filter(publisher=publisher).values_list("pk", flat=True)
    )
    started = time.perf_counter()
    with transaction.atomic():
        Delivery.objects.bulk_create(
            (Delivery(post=post, subscription_id=pk) for pk in subscription_ids), batch_size=5000
        )
    deliveries = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        Message.objects.bulk_create(
            (Message(room_id=pk, sender_kind="bot", text="baseline") for pk in room_ids),
            batch_size=5000,
        )
    messages = time.perf_counter() - started
    queryset_delete(Message.objects.filter(room__bot_id=publisher.bot_id))
    instance_delete(post)
    return {"bulk_insert_deliveries_s": round(deliveries, 3),
            "bulk_insert_messages_s": round(messages, 3)}  # fmt: skip


def fan_out(publisher: Any, n: int, redis_url: str) -> dict[str, float]:
    from publishers import services
    from publishers.models import Delivery

    counter = PushCounter(redis_url)
    time.sleep(0.2)  # the subscription is in place before anything is published
    try:
        started = time.perf_counter()
        post = services.post_create(publisher=publisher, title="Fan-out benchmark")
        written = time.perf_counter() - started
        sent = Delivery.objects.filter(post=post, status="sent")
        wait_until(lambda: sent.count() == n, timeout=600, what="every delivery recorded")
        recorded = time.perf_counter() - started
        wait_until(lambda: counter.count >= n, timeout=120, what="every message pushed")
        pushed = time.perf_counter() - started
    finally:
        counter.close()
    return {"deliveries_written_s": round(written, 3), "all_recorded_s": round(recorded, 3),
            "all_pushed_s": round(pushed, 3), "pushed": counter.count}  # fmt: skip


def measure(n: int, redis_url: str) -> dict[str, Any]:
    from botsite.db import queryset_delete
    from conversations.models import Bot, Room
    from publishers import services
    from publishers.models import Publisher

    bot, _ = Bot.objects.get_or_create(slug="bench-fanout", defaults={"name": "Bench"})
    queryset_delete(Room.objects.filter(bot=bot))
    services.publishers_delete(publishers=Publisher.objects.filter(bot=bot))
    publisher = services.publisher_save(
        publisher=Publisher(bot=bot, slug="news", name="News", kind="manual")
    )
    try:
        room_ids = subscribers_make(publisher, n)
        result = {"subscriptions": n, **baseline(publisher, room_ids)}
        result.update(fan_out(publisher, n, redis_url))
        result["ratio_to_bulk_inserts"] = round(
            result["all_pushed_s"]
            / (result["bulk_insert_deliveries_s"] + result["bulk_insert_messages_s"]),
            1,
        )
        started = time.perf_counter()
        deleted = queryset_delete(Room.objects.filter(bot=bot))
        result["rooms_deleted_s"] = round(time.perf_counter() - started, 3)
        result["rows_deleted"] = sum(deleted.values())
    finally:
        queryset_delete(Room.objects.filter(bot=bot))
        services.publishers_delete(publishers=Publisher.objects.filter(pk=publisher.pk))
    return result


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*")
    args = parser.parse_args(argv)
    env = environment()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    logs = RESULTS / "logs"
    worker = start(
        "fanout-worker",
        [sys.executable, "-m", "celery", "-A", "botsite", "worker", "-l", "WARNING", "-c", "2"],
        env,
        logs,
    )
    processes: list[Process] = [worker]
    results = []
    try:
        time.sleep(3)  # the worker connects to the broker
        for n in args.sizes or ([300] if args.smoke else [10_000, 100_000]):
            result = measure(n, env["REDIS_URL"])
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        for process in processes:
            process.stop()
    results_write("fanout-", results, smoke=args.smoke)
    return results


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botsite.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
