"""A publisher's schedule kept in step with beat's: one periodic task per publisher,
written with the publisher, paused and deleted with it; orphans swept."""

import json
import zoneinfo

from django.db import transaction
from django.db.models import CharField, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from botsite.db import queryset_delete
from publishers.models import Publisher

RUN_TASK = "publishers.tasks.publisher_run"


SCHEDULE_NAME_PREFIX = "publisher:"


def schedule_name(publisher_id: int) -> str:
    return f"{SCHEDULE_NAME_PREFIX}{publisher_id}"


def publisher_schedule_sync(*, publisher: Publisher) -> PeriodicTask | None:
    """Make the publisher's beat task match it: created, changed, paused or removed.

    The only writer of publishers' periodic tasks. Saves go through the model (not bulk
    updates) so django-celery-beat notices the change.
    """
    name = schedule_name(publisher.pk)
    if publisher.interval_seconds is None and not publisher.crontab:
        PeriodicTask.objects.filter(name=name).delete()  # on demand only
        Publisher.objects.filter(pk=publisher.pk).update(periodic_task=None)
        publisher.periodic_task = None
        return None
    schedules: dict[str, object] = {"interval": None, "crontab": None}
    if publisher.interval_seconds is not None:
        schedules["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=publisher.interval_seconds, period=IntervalSchedule.SECONDS
        )
    else:
        minute, hour, day_of_month, month_of_year, day_of_week = publisher.crontab.split()
        schedules["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone=zoneinfo.ZoneInfo(publisher.timezone),
        )
    task, _ = PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            "task": RUN_TASK,
            "args": json.dumps([publisher.pk]),
            "enabled": publisher.is_enabled,
            "description": f"Fetch {publisher.bot.slug}/{publisher.slug}",
            **schedules,
        },
    )
    if publisher.periodic_task_id != task.pk:
        Publisher.objects.filter(pk=publisher.pk).update(periodic_task=task)
        publisher.periodic_task = task
    return task


def publisher_save(*, publisher: Publisher) -> Publisher:
    """Validate and save a publisher, and its schedule with it."""
    publisher.full_clean()
    with transaction.atomic():
        publisher.save()
        publisher_schedule_sync(publisher=publisher)
    return publisher


def publishers_enable(*, publishers: QuerySet[Publisher], is_enabled: bool) -> int:
    """Pause or resume publishers (their beat tasks too); returns how many changed."""
    changed = 0
    with transaction.atomic():
        for publisher in publishers.select_for_update().select_related("bot"):
            if publisher.is_enabled != is_enabled:
                publisher.is_enabled = is_enabled
                publisher.save(update_fields=["is_enabled", "updated_at"])
                changed += 1
            publisher_schedule_sync(publisher=publisher)
    return changed


def publishers_delete(*, publishers: QuerySet[Publisher]) -> int:
    """Delete publishers with their beat tasks; returns how many publishers."""
    with transaction.atomic():
        ids = list(publishers.values_list("pk", flat=True))
        PeriodicTask.objects.filter(name__in=[schedule_name(pk) for pk in ids]).delete()
        queryset_delete(Publisher.objects.filter(pk__in=ids))
    return len(ids)


def publisher_schedules_orphans_delete() -> int:
    """Remove beat tasks whose publisher is gone some other way (a bot deleted with its
    publishers, a raw queryset delete); returns how many."""
    # One statement, one snapshot: reading the publishers first and the tasks after would
    # take a publisher committed in between (with its task) for gone and unschedule it.
    names = Publisher.objects.annotate(
        schedule_name=Concat(Value(SCHEDULE_NAME_PREFIX), Cast("pk", CharField()))
    ).values("schedule_name")
    orphans = PeriodicTask.objects.filter(task=RUN_TASK).exclude(name__in=Subquery(names))
    count = 0
    for task in orphans:  # one by one: beat notices deletes of model instances
        task.delete()
        count += 1
    return count
