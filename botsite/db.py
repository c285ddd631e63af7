"""Deleting many rows, in batches of bounded size.

psycopg 3 binds parameters server-side, at most 65,535 per statement, and Django's delete
collector binds every id it gathered (the rows asked for and all that cascade from them) in
one statement, holding each row in memory besides: a purge of 80,000 messages or the delete
of a busy bot failed and deleted nothing. Here the rows go `batch_size` at a time by primary
key. Whatever cascades from a batch is deleted first, the same way and depth first; then the
collector deletes the batch itself, finds nothing left to cascade, sends each row's signals
(the audit log, the bots' snapshot caches) and sets SET_NULL references in one statement per
relation. Foreign keys stay Django's `on_delete` (Django 5.2 has no database-level ON DELETE),
so the signals keep firing and one function serves every delete.
"""

from collections import Counter
from typing import Any

from django.db import models, transaction
from django.db.models.deletion import CASCADE, Collector, get_candidate_relations_to_delete

#: Rows per statement: far below the 65,535 parameters a statement may bind, small enough
#: that a batch's rows sit in memory at once, large enough that round trips stay few.
DELETE_BATCH_SIZE = 1000


def instance_delete(instance: models.Model) -> dict[str, int]:
    """Delete one row and all that cascades from it, in batches, as `instance.delete()`
    would: its signals get the instance itself, and name it as their origin."""
    using = instance._state.db or "default"
    with transaction.atomic(using=using):
        counts = _dependents_delete(type(instance), [instance.pk], using, instance)
        collector = Collector(using=using, origin=instance)
        collector.collect([instance])
        counts.update(collector.delete()[1])
    return {label: count for label, count in counts.items() if count}


def queryset_delete(
    queryset: models.QuerySet[Any],
    *,
    batch_size: int = DELETE_BATCH_SIZE,
    origin: models.Model | models.QuerySet[Any] | None = None,
) -> dict[str, int]:
    """Delete the rows and all that cascades from them, `batch_size` rows per statement;
    returns how many rows of each model went, by label (as `QuerySet.delete()` does).

    Each batch and its cascade is one transaction (a savepoint inside the caller's). The
    signals' `origin` is the queryset, or what the caller names (as for Django's cascades)."""
    origin = queryset if origin is None else origin
    counts: Counter[str] = Counter()
    model = queryset.model
    using = queryset.db
    ids_query = queryset.order_by().values_list("pk", flat=True)
    # One pass: the ids come through one cursor, a batch per fetch, and each batch is deleted
    # before the next is read (a fresh query per batch would pass over the deleted rows'
    # index entries again, and the whole delete would grow with the square of the rows).
    # Then until none is left: rows the cursor did not see (written meanwhile, or SQLite,
    # which isolates no query from the connection's own writes).
    batch: list[Any] = []
    for pk in ids_query.iterator(chunk_size=batch_size):
        batch.append(pk)
        if len(batch) == batch_size:
            counts.update(_batch_delete(model, batch, using, origin, batch_size))
            batch = []
    if batch:
        counts.update(_batch_delete(model, batch, using, origin, batch_size))
    while batch := list(ids_query[:batch_size]):
        counts.update(_batch_delete(model, batch, using, origin, batch_size))
    return {label: count for label, count in counts.items() if count}


def _batch_delete(
    model: type[models.Model],
    ids: list[Any],
    using: str,
    origin: models.Model | models.QuerySet[Any],
    batch_size: int,
) -> Counter[str]:
    """Delete these rows of `model` and what cascades from them, in one transaction."""
    with transaction.atomic(using=using):
        counts = _dependents_delete(model, ids, using, origin, batch_size)
        collector = Collector(using=using, origin=origin)
        collector.collect(model._base_manager.using(using).filter(pk__in=ids))
        counts.update(collector.delete()[1])
    return counts


def _dependents_delete(
    model: type[models.Model],
    ids: list[Any],
    using: str,
    origin: models.Model | models.QuerySet[Any],
    batch_size: int = DELETE_BATCH_SIZE,
) -> Counter[str]:
    """Delete the rows that cascade from these rows of `model` (not the rows themselves)."""
    counts: Counter[str] = Counter()
    for relation in get_candidate_relations_to_delete(model._meta):
        if relation.on_delete is CASCADE:
            dependents = relation.related_model._base_manager.using(using).filter(
                **{f"{relation.field.name}__in": ids}
            )
            counts.update(queryset_delete(dependents, batch_size=batch_size, origin=origin))
    return counts


def deletion_summary(queryset: models.QuerySet[Any]) -> dict[type[models.Model], int]:
    """How many rows of each model deleting these rows would delete (themselves and what
    cascades from them), counted in the database, one query per model, no row loaded."""
    parents: dict[type[models.Model], list[tuple[type[models.Model], str]]] = {}
    pending = [queryset.model]
    while pending:  # the models the rows cascade to, and through which foreign keys
        model = pending.pop()
        for relation in get_candidate_relations_to_delete(model._meta):
            child = relation.related_model
            if relation.on_delete is not CASCADE or child is model:
                continue
            if child not in parents:
                pending.append(child)
            parents.setdefault(child, []).append((model, relation.field.name))
    # A model is counted once its parents are: a message reached through its room and
    # through its participant is one row, counted once.
    rows: dict[type[models.Model], models.QuerySet[Any]] = {queryset.model: queryset}
    waiting = list(parents)
    while waiting:
        model = next(m for m in waiting if all(p in rows for p, _ in parents[m]))
        waiting.remove(model)
        reached = models.Q()
        for parent, field in parents[model]:
            reached |= models.Q(**{f"{field}__in": rows[parent].values("pk")})
        rows[model] = model._base_manager.using(queryset.db).filter(reached)
    counts = {model: found.count() for model, found in rows.items()}
    return {model: count for model, count in counts.items() if count}
