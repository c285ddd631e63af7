"""Use cases of publishing: schedules, runs that store each post once, manual posts and
subscriptions. Fan-out and sending live in `publishers.deliveries`."""

import hashlib
import json
import logging
import uuid
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from botsite.db import instance_delete, queryset_delete
from botsite.http import OutboundError
from botsite.queue import task_send
from botsite.registry import UnknownPluginError
from conversations.models import Participant, Room
from publishers.base import PostItem
from publishers.deliveries import UNSUBSCRIBE_SALT, deliveries_create
from publishers.exceptions import PublisherFetchFailed, PublishingError, SubscriptionInvalid
from publishers.models import SOURCE_ADOPT, Post, Publisher, PublisherRun, Subscription
from publishers.registry import publisher_types
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create

logger = logging.getLogger(__name__)

RUN_TASK = "publishers.tasks.publisher_run"
END_OF_TIME = datetime.max.replace(tzinfo=UTC)
SCHEDULE_NAME_PREFIX = "publisher:"


# --- Schedules -------------------------------------------------------------------------------


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


# --- Runs --------------------------------------------------------------------------------------


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
        run.posts_history = sum(1 for post in new if _is_history(post, horizon))
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


def _is_history(post: Post, horizon: datetime | None) -> bool:
    return horizon is not None and (post.published_at is None or post.published_at < horizon)


def _source_id(item: PostItem) -> str:
    if len(item.source_id) <= 255:
        return item.source_id
    return "sha256:" + hashlib.sha256(item.source_id.encode()).hexdigest()


def _post_from(publisher: Publisher, item: PostItem) -> Post:
    link = item.link if item.link.startswith(("https://", "http://")) else ""
    return Post(
        publisher=publisher,
        source_id=_source_id(item),
        title=(item.title or item.link or item.source_id)[:300],
        body=item.body,
        link=link if len(link) <= 1000 else "",
        tags=list(dict.fromkeys(tag.strip().lower()[:100] for tag in item.tags if tag.strip())),
        published_at=item.published_at,
    )


def posts_store(
    *, publisher: Publisher, items: Iterable[PostItem], history_before: datetime | None = None
) -> list[Post]:
    """Store the items not stored yet, each with its deliveries; returns the new posts.

    With `history_before`, items published before it (or undated) are stored as history,
    without deliveries: a first run's backlog.
    """
    items = list(items)
    known = set(
        Post.objects.filter(
            publisher=publisher, source_id__in=[_source_id(item) for item in items]
        ).values_list("source_id", flat=True)
    )
    new: list[Post] = []
    for item in items:
        post = _post_from(publisher, item)
        if post.source_id in known:
            continue
        known.add(post.source_id)
        try:
            with transaction.atomic():
                post.save()
                if not _is_history(post, history_before):
                    deliveries_create(post=post)
        except IntegrityError:  # stored by an overlapping run a moment ago
            continue
        new.append(post)
    return new


def post_create(
    *,
    publisher: Publisher,
    title: str,
    body: str = "",
    link: str = "",
    tags: Iterable[str] = (),
    published_at: object = None,
) -> Post:
    """A post written by staff: stored, and fanned out at once or, dated in the future, then."""
    post = Post(
        publisher=publisher,
        source_id=f"manual:{uuid.uuid4().hex}",
        title=title,
        body=body,
        link=link,
        tags=list(tags),
        published_at=published_at or timezone.now(),
    )
    post.full_clean()
    with transaction.atomic():
        post.save()
        deliveries_create(post=post)
    return post


# --- Subscriptions -----------------------------------------------------------------------------


def subscription_create(
    *,
    publisher: Publisher,
    destination: str,
    room: Room | None = None,
    email: str = "",
    endpoint: WebhookEndpoint | None = None,
    webhook_url: str = "",
    participant: Participant | None = None,
    tag: str = "",
) -> tuple[Subscription, str | None]:
    """Subscribe a room, an email address or a webhook to a publisher.

    A webhook given by URL gets a new endpoint of the publisher's bot; its signing secret
    is returned (shown once), else None. Raises `SubscriptionInvalid` and changes nothing
    when a value is wrong, the URL is refused or the subscription exists.
    """
    with transaction.atomic():
        secret = None
        if destination == Subscription.Destination.WEBHOOK and endpoint is None and webhook_url:
            try:
                endpoint, secret = webhook_endpoint_create(url=webhook_url, bot=publisher.bot)
            except WebhookUrlRefused as error:
                raise SubscriptionInvalid(
                    error.detail, fields={"webhook_url": [error.detail]}
                ) from error
        subscription = Subscription(
            publisher=publisher,
            destination=destination,
            room=room,
            email=email.strip().lower() if email else "",
            endpoint=endpoint,
            participant=participant,
            tag=tag.strip().lower(),
        )
        try:
            subscription.full_clean()
        except ValidationError as error:
            raise SubscriptionInvalid(
                "; ".join(error.messages), fields=error.message_dict
            ) from error
        subscription.save()
    return subscription, secret


def subscription_delete(*, subscription: Subscription) -> None:
    """Delete a subscription; its deliveries go with it."""
    instance_delete(subscription)


def subscription_from_token(*, token: str) -> Subscription | None:
    """The subscription an unsubscribe link names, or None for a bad or stale link."""
    try:
        subscription_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Subscription.objects.select_related("publisher").filter(pk=subscription_id).first()


def subscription_unsubscribe(*, token: str) -> Subscription:
    """One-click unsubscribe from an email link; raises `PublishingError` for a bad token."""
    subscription = subscription_from_token(token=token)
    if subscription is None:
        raise PublishingError("This unsubscribe link is not valid.", code="bad_token")
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False)
    subscription.is_active = False
    return subscription
