"""Filters for the log configuration in `settings.LOGGING`."""

import logging
from collections.abc import Mapping

from django.conf import settings


class HousekeepingTaskFilter(logging.Filter):
    """Celery's lines for each run of a periodic housekeeping task (sent, received,
    succeeded) become DEBUG lines: the events scan alone runs every 2 s, some 43,000 times
    a day, and an idle worker and beat logged each run at INFO. Failures and what the
    tasks themselves log are left as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._is_housekeeping(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _is_housekeeping(record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return False
        tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        args = record.args
        if isinstance(args, Mapping):
            return args.get("name") in tasks
        return any(isinstance(arg, str) and arg in tasks for arg in args or ())
