"""What the services handed to the real broker (in-memory in the embedded run, Redis in
CI's second pass), read the way a worker would."""

from celery import current_app


def tasks_taken(name: str) -> list[list[object]]:
    """The arguments of each `name` task waiting in the default queue; every message there
    is taken off it (nothing else in a test process reads the queue)."""
    found = []
    with current_app.connection_for_read() as connection:
        queue = connection.SimpleQueue(current_app.conf.task_default_queue)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                message.ack()
                if message.headers.get("task") == name:
                    args, _kwargs, _embed = message.payload  # Celery's message protocol 2
                    found.append(list(args))
        finally:
            queue.close()
    return found
