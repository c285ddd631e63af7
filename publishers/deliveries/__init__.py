"""Use cases of fan-out: one delivery per post and subscription, sent on workers.

One module per concept, the names here for callers:

- `fanout`: a post's deliveries written (`deliveries_create`), and web chat rooms
  reached in bulk (`post_deliveries_send`);
- `sending`: one delivery of its own, a room, an email or a webhook (`delivery_send`);
- `queue`: deliveries handed to the broker, the throttles, the sweeper and staff's retry.
"""

from publishers.deliveries.fanout import deliveries_create, post_deliveries_send, post_is_scheduled
from publishers.deliveries.queue import (
    COUNTDOWN_MAX_SECONDS,
    DELIVERY_SEND_TASK,
    POST_DELIVERIES_SEND_TASK,
    deliveries_retry,
    deliveries_sweep,
)
from publishers.deliveries.sending import UNSUBSCRIBE_SALT, delivery_send, unsubscribe_url
from publishers.exceptions import DeliveryRetry

__all__ = [
    "COUNTDOWN_MAX_SECONDS",
    "DELIVERY_SEND_TASK",
    "POST_DELIVERIES_SEND_TASK",
    "UNSUBSCRIBE_SALT",
    "DeliveryRetry",
    "deliveries_create",
    "deliveries_retry",
    "deliveries_sweep",
    "delivery_send",
    "post_deliveries_send",
    "post_is_scheduled",
    "unsubscribe_url",
]
