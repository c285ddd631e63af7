"""A publisher's run: fetch its source (at its time, or now from the admin or the API),
store each item once as a post; a new source's backlog is kept as history."""

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from botsite.http import OutboundError
from botsite.queue import task_send
from botsite.registry import UnknownPluginError
from publishers.exceptions import PublisherFetchFailed, PublishingError
from publishers.models import SOURCE_ADOPT, Publisher, PublisherRun
from publishers.registry import publisher_types
from publishers.services.posts import post_is_history, posts_store
from publishers.services.schedules import RUN_TASK, schedule_name

logger = logging.getLogger(__name__)


END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def publisher_run_now(*, publisher: Publisher) -> None:
    """Fetch the publisher at once, on a worker (the admin's and API's "Publish now")."""
    if not publisher.is_enabled:
        raise PublishingError("The publisher is paused; enable it first.", code="publisher_paused")
    transaction.on_commit(lambda: task_send(RUN_TASK, publisher.pk))


def publisher_run(*, publisher_id: int) -> PublisherRun | None:
    """Fetch a publisher, store each new item once and fan it out; record the run.

    Runs of one publisher never overlap: a run holds a lease, and a second beat, a repeated
    task or a run that meets a slow one skips. Even without the lease nothing could be
    published twice: posts are unique per publisher and source id, deliveries per post and
    subscription, and a post and its deliveries are written in one transaction.
    """
    publisher = Publisher.objects.select_related("bot").filter(pk=publisher_id).first()
    if publisher is None:
        PeriodicTask.objects.filter(name=schedule_name(publisher_id)).delete()
        return None
    if not publisher.is_enabled:
        logger.info("publisher %s: paused, not run", publisher_id)
        return None
    started_at = timezone.now()
    lease = started_at + timedelta(seconds=settings.PUBLISHER_RUN_TIMEOUT_SECONDS)
    claimed = (
        Publisher.objects.filter(pk=publisher_id)
        .filter(Q(run_lease_until__isnull=True) | Q(run_lease_until__lt=started_at))
        .update(run_lease_until=lease)
    )
    if not claimed:
        logger.info("publisher %s: a run is going on, this one skips", publisher_id)
        return None
    run = PublisherRun.objects.create(publisher=publisher, started_at=started_at)
    source = publisher.source_seen
    try:
        plugin = publisher_types.get(publisher.kind)(dict(publisher.config))
        source = _source_digest(publisher.kind, plugin.source())
        items = list(plugin.fetch())
        run.items_seen = len(items)
        horizon = _history_horizon(publisher, source=source, now=started_at)
        new = posts_store(publisher=publisher, items=items, history_before=horizon)
        run.posts_new = len(new)
        run.posts_history = sum(1 for post in new if post_is_history(post, horizon))
    except (PublisherFetchFailed, OutboundError, UnknownPluginError) as error:
        run.error = getattr(error, "detail", None) or str(error)
    except Exception as error:
        logger.exception("publisher %s crashed", publisher_id)
        run.error = f"{type(error).__name__}: {error}"
    run.finished_at = timezone.now()
    run.save()
    Publisher.objects.filter(pk=publisher_id).update(
        status=Publisher.Status.FAILING if run.error else Publisher.Status.OK,
        last_run_at=run.finished_at,
        last_error=run.error,
        # A failed run saw no backlog: the next good one is still the source's first.
        source_seen=publisher.source_seen if run.error else source,
    )
    Publisher.objects.filter(pk=publisher_id, run_lease_until=lease).update(run_lease_until=None)
    logger.info(
        "publisher %s: %d items, %d new (%d stored as history)%s",
        publisher_id,
        run.items_seen,
        run.posts_new,
        run.posts_history,
        f", error: {run.error}" if run.error else "",
    )
    return run


def _source_digest(kind: str, source: str) -> str:
    return hashlib.sha256(f"{kind}:{source}".encode()).hexdigest()


def publisher_source_key(*, publisher: Publisher) -> str:
    """The digest a run of this publisher records as the source it read."""
    plugin = publisher_types.get(publisher.kind)(dict(publisher.config))
    return _source_digest(publisher.kind, plugin.source())


def publisher_next_run_sends(*, publisher: Publisher) -> str:
    """What the next run does with what it finds, in words for staff."""
    if not publisher.pk:
        return "This is the source's first run. " + _first_run_words(publisher)
    try:
        source = publisher_source_key(publisher=publisher)
    except UnknownPluginError as error:
        return str(error)
    if publisher.source_seen in (source, SOURCE_ADOPT):
        return "Every new item: the backlog of this source was taken in already."
    return "It will be this source's first run. " + _first_run_words(publisher)


def _first_run_words(publisher: Publisher) -> str:
    if publisher.first_run_send_hours is None:
        return "What the source offers is stored as history; nothing of it is sent."
    return (
        f"Items published in the {publisher.first_run_send_hours} hours before the run are "
        "sent; older and undated ones are stored as history."
    )


def _history_horizon(publisher: Publisher, *, source: str, now: datetime) -> datetime | None:
    """On a source's first run, the time before which items are history (stored, never
    sent); None on later runs, which send every new item."""
    if publisher.source_seen in (source, SOURCE_ADOPT):
        return None
    if publisher.first_run_send_hours is None:
        return END_OF_TIME
    return now - timedelta(hours=publisher.first_run_send_hours)
