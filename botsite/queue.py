"""The one door through which services hand work to the broker: a task by its name.

Services never import a tasks module: tasks are thin wrappers that import their service,
so the other way round made every app's services and tasks an import circle. Each app
names its tasks beside the service that sends them; `botsite/tests/test_queue.py` checks
that every name used is a task the worker knows.
"""

from datetime import datetime

from celery import current_app


def task_send(
    name: str, *args: object, eta: datetime | None = None, countdown: float | None = None
) -> None:
    """Send the task `name` with `args`, at once or at `eta` / after `countdown` seconds.

    Raises kombu's `OperationalError` when the broker cannot be reached."""
    # The project's app: `botsite/__init__.py` loads it with Django in every process.
    current_app.send_task(name, args=args, eta=eta, countdown=countdown or None)
