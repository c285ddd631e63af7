"""The audit log: every change made in the admin or through the API, with before and after.

Admin views and API writes open an audit context (who is acting, from where); inside it,
model signals record each saved or deleted row. Outside one (the engine, workers, beat) the
receivers return at once, so the chat path pays one context-variable read and no query.
Signals are used here, not in the main flow, because admin inlines, formsets and cascades
save rows that no single call site sees.
"""

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Max
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from integrations.models import ApiToken, AuditEntry

#: Rows written as a side effect of being logged in or of logging itself.
NOT_AUDITED = {
    "admin.logentry",
    "sessions.session",
    "contenttypes.contenttype",
    "integrations.auditentry",
    "integrations.idempotencykey",
}
#: Conversation history and runtime rows: their deletion is logged when asked for directly,
#: not once per row when a bot or room is deleted with them.
HISTORY = {
    "conversations.message",
    "conversations.memoryentry",
    "actions.actionrun",
    "actions.pendingaction",
    "publishers.delivery",
    "publishers.post",
}
#: Values never copied into the log.
SECRET_FIELDS = {"password", "secret_hash", "secret"}


@dataclass(frozen=True)
class AuditActor:
    source: str
    user: Any = None
    token: ApiToken | None = None

    @property
    def label(self) -> str:
        name = getattr(self.user, "username", None) or "anonymous"
        return f"{name} via token {self.token.prefix}" if self.token else name


def api_actor(request: Any) -> AuditActor:
    """Who is acting on an API request: the token's user, with the token."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return AuditActor(source="api", user=request.user, token=token)


_actor: contextvars.ContextVar[AuditActor | None] = contextvars.ContextVar(
    "audit_actor", default=None
)


@contextmanager
def audit_context(actor: AuditActor) -> Iterator[None]:
    """Record every model change made inside the block as `actor`'s."""
    reset = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(reset)


def _label(instance: models.Model) -> str:
    return instance._meta.label_lower


def _snapshot(instance: models.Model) -> dict[str, Any]:
    values = {f.name: f.value_from_object(instance) for f in instance._meta.concrete_fields}
    for field in instance._meta.many_to_many:
        if instance.pk is not None:
            values[field.name] = sorted(getattr(instance, field.name).values_list("pk", flat=True))
    for name in SECRET_FIELDS & values.keys():
        values[name] = "(hidden)"
    # Through JSON so datetimes, decimals and UUIDs are stored as the API shows them.
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder, default=str))


def audit_record(
    *,
    actor: AuditActor,
    action: str,
    instance: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    object_repr: str | None = None,
) -> AuditEntry:
    """Write one audit entry."""
    return AuditEntry.objects.create(
        source=actor.source,
        user=actor.user if getattr(actor.user, "pk", None) else None,
        token=actor.token,
        actor=actor.label[:200],
        action=action,
        model=_label(instance),
        object_id=str(instance.pk),
        object_repr=(str(instance) if object_repr is None else object_repr)[:200],
        before=before,
        after=after,
    )


def _audited(instance: models.Model) -> AuditActor | None:
    actor = _actor.get()
    if actor is None or _label(instance) in NOT_AUDITED or instance._meta.auto_created:
        return None
    return actor


def _before_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if _audited(instance) is None or instance.pk is None or kwargs.get("raw"):
        return
    previous = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _snapshot(previous) if previous else None  # type: ignore[attr-defined]


def _after_save(
    sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any
) -> None:
    actor = _audited(instance)
    if actor is None or kwargs.get("raw"):
        return
    before = None if created else getattr(instance, "_audit_before", None)
    after = _snapshot(instance)
    if before == after:
        return
    action = AuditEntry.Action.CREATE if created or before is None else AuditEntry.Action.UPDATE
    audit_record(actor=actor, action=action, instance=instance, before=before, after=after)


def _delete_audited(instance: models.Model, origin: Any) -> AuditActor | None:
    actor = _audited(instance)
    if actor is None or (_label(instance) in HISTORY and origin is not instance):
        return None
    return actor


def _before_delete(
    sender: type[models.Model], instance: models.Model, origin: Any = None, **kwargs: Any
) -> None:
    if _delete_audited(instance, origin) is not None:
        # Taken now: related rows that __str__ reads may be gone after the delete.
        instance._audit_before = (_snapshot(instance), str(instance))  # type: ignore[attr-defined]


def _after_delete(
    sender: type[models.Model], instance: models.Model, origin: Any = None, **kwargs: Any
) -> None:
    actor = _delete_audited(instance, origin)
    before = getattr(instance, "_audit_before", None)
    if actor is not None and before is not None:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.DELETE,
            instance=instance,
            before=before[0],
            after=None,
            object_repr=before[1],
        )


def _m2m_changed(instance: models.Model, action: str, reverse: bool, **kwargs: Any) -> None:
    actor = _audited(instance)
    if actor is None or reverse:
        return
    if action.startswith("pre_"):
        instance._audit_m2m_before = _snapshot(instance)  # type: ignore[attr-defined]
    elif action.startswith("post_"):
        before = getattr(instance, "_audit_m2m_before", None)
        after = _snapshot(instance)
        if before != after:
            audit_record(
                actor=actor,
                action=AuditEntry.Action.UPDATE,
                instance=instance,
                before=before,
                after=after,
            )


def receivers_connect() -> None:
    pre_save.connect(_before_save, dispatch_uid="audit_before_save")
    post_save.connect(_after_save, dispatch_uid="audit_after_save")
    pre_delete.connect(_before_delete, dispatch_uid="audit_before_delete")
    post_delete.connect(_after_delete, dispatch_uid="audit_after_delete")
    m2m_changed.connect(_m2m_changed, dispatch_uid="audit_m2m_changed")


@contextmanager
def audit_rows_watch(actor: AuditActor, queryset: models.QuerySet[Any]) -> Iterator[None]:
    """Record changes to these rows that no save reported: admin actions that update in bulk
    (`QuerySet.update` sends no signal)."""
    before = {row.pk: _snapshot(row) for row in queryset}
    mark = AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0
    yield
    label = queryset.model._meta.label_lower
    reported = set(
        AuditEntry.objects.filter(id__gt=mark, model=label).values_list("object_id", flat=True)
    )
    for row in queryset.model._default_manager.filter(pk__in=before):
        after = _snapshot(row)
        if after != before[row.pk] and str(row.pk) not in reported:
            audit_record(
                actor=actor,
                action=AuditEntry.Action.UPDATE,
                instance=row,
                before=before[row.pk],
                after=after,
            )
