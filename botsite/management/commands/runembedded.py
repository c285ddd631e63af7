import os
from typing import Any

from daphne.management.commands.runserver import Command as DaphneRunserverCommand
from django.conf import settings
from django.core.management import CommandError

from botsite import embedded
from botsite.celery import EMBEDDED_FLAG
from botsite.celery import app as celery_app


class Command(DaphneRunserverCommand):
    help = (
        "Run the whole system in one process: the ASGI server (HTTP and WebSocket), a Celery "
        "worker and Celery beat. The embedded default; production runs them separately."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--worker-concurrency",
            type=int,
            default=4,
            help="Threads of the embedded Celery worker (default 4).",
        )
        parser.add_argument(
            "--no-bridge",
            action="store_true",
            help="Leave the bridge out (one runs as a process of its own: python -m bridge).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError(
                "REDIS_URL (or a broker) is configured: run daphne, `celery worker` and "
                "`celery beat` as separate processes instead (see README, Production)."
            )
        os.environ[EMBEDDED_FLAG] = "1"
        self.worker_concurrency = options["worker_concurrency"]
        self.with_bridge = not options["no_bridge"]
        super().handle(*args, **options)

    def inner_run(self, *args: Any, **options: Any) -> None:
        # Runs in the autoreloader's child, so a code reload restarts worker and beat too.
        embedded.worker_start(celery_app, concurrency=self.worker_concurrency)
        embedded.beat_start(celery_app)
        if self.with_bridge:
            host = f"[{self.addr}]" if ":" in self.addr else self.addr
            embedded.bridge_start(url=f"ws://{host}:{self.port}", token=settings.BRIDGE_TOKEN)
        base = f"http://{self.addr}:{self.port}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Botsite is up. Chat: {base}/chat/demo/  Admin: {base}/admin/\n"
                "Worker, beat and the bridge run in this process. Quit with CONTROL-C.\n"
            )
        )
        super().inner_run(*args, **options)
