"""Celery's broker transport on Redis: kombu's, with one fix (settings.CELERY_BROKER_TRANSPORT).

A worker that lost Redis while it held unacknowledged tasks and waited for more exited
for good with `AttributeError: 'NoneType' object has no attribute 'hostname'` (kombu
5.7.0, redis-py 8.1.0; the symptom of celery/kombu#970). Celery handles the loss by
collecting the connection, which closes its channel and then detaches the transport, and
then closing the connection, which closes the channel again. The first close begins by
reading the answer to the pending BRPOP (celery/kombu#1733, so that a task popped at that
moment is not lost); with the socket dead that read raises, and the close stopped there,
half done. The second close then handed the unacknowledged tasks back through the
detached transport, and crashed.

Here the first close goes on past that read: no message was taken from the queue
without its answer, so nothing is lost by not reading it. The unacknowledged tasks stay
in Redis's unacked index (handed back after the visibility timeout, if Redis kept its
data) and their runs are taken back by the sweeper either way.
"""

from kombu.transport import redis


class Channel(redis.Channel):
    def close(self) -> None:
        if self._in_poll:
            try:
                self._brpop_read()
            except redis.Empty:
                pass
            except self.connection_errors:
                pass  # `_brpop_read` has marked the BRPOP as done; close the rest
        super().close()


class Transport(redis.Transport):
    Channel = Channel
