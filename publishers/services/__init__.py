"""Use cases of publishing, one module per concept, the names here for callers. Fan-out and
sending live in `publishers.deliveries`.

- `schedules`: a publisher's periodic task kept in step with beat's;
- `runs`: fetching a source and storing what is new (`publisher_run`, `publisher_run_now`);
- `posts`: posts stored once per item, or written by staff (`post_create`);
- `subscriptions`: subscribing rooms, addresses and endpoints, and unsubscribing.
"""

from publishers.services.posts import post_create, posts_store
from publishers.services.runs import (
    END_OF_TIME,
    publisher_next_run_sends,
    publisher_run,
    publisher_run_now,
    publisher_source_key,
)
from publishers.services.schedules import (
    RUN_TASK,
    SCHEDULE_NAME_PREFIX,
    publisher_save,
    publisher_schedule_sync,
    publisher_schedules_orphans_delete,
    publishers_delete,
    publishers_enable,
    schedule_name,
)
from publishers.services.subscriptions import (
    subscription_check,
    subscription_create,
    subscription_delete,
    subscription_from_token,
    subscription_unsubscribe,
)

__all__ = [
    "END_OF_TIME",
    "RUN_TASK",
    "SCHEDULE_NAME_PREFIX",
    "post_create",
    "posts_store",
    "publisher_next_run_sends",
    "publisher_run",
    "publisher_run_now",
    "publisher_save",
    "publisher_schedule_sync",
    "publisher_schedules_orphans_delete",
    "publisher_source_key",
    "publishers_delete",
    "publishers_enable",
    "schedule_name",
    "subscription_check",
    "subscription_create",
    "subscription_delete",
    "subscription_from_token",
    "subscription_unsubscribe",
]
