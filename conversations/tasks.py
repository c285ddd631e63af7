from celery import shared_task

from conversations import services


@shared_task
def memory_entries_purge() -> int:
    return services.memory_entries_purge()
