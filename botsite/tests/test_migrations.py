"""Migrations keep the previous release working: servers and workers of the release before
run while `migrate` is applied (README, Production), and they write rows without knowing
the new columns."""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddField
from django.db.models import NOT_PROVIDED

#: Columns added before the rule was written, each shipped with the code that writes it.
ADDED_BEFORE_THE_RULE = {
    ("actions", "0002_pattern_example", "pattern", "example"),
    ("actions", "0003_template_html", "responsetemplate", "html"),
    ("actions", "0004_action_prompts_pendingaction", "action", "prompts"),
    ("conversations", "0002_bot_pending_timeout_seconds", "bot", "pending_timeout_seconds"),
    ("conversations", "0004_bot_allowed_origins", "bot", "allowed_origins"),
    ("conversations", "0005_bot_config_version", "bot", "config_version"),
    ("publishers", "0002_publishing", "publisher", "crontab"),
    ("publishers", "0002_publishing", "publisher", "timezone"),
    ("publishers", "0002_publishing", "publisherrun", "publisher"),
}


def columns_added_that_old_code_cannot_fill() -> set[tuple[str, str, str, str]]:
    ours = {
        config.label
        for config in apps.get_app_configs()
        if settings.BASE_DIR in Path(config.path).parents
        and "site-packages" not in Path(config.path).parts  # a virtualenv in the checkout
    }
    found = set()
    for (app, name), migration in MigrationLoader(None).disk_migrations.items():
        if app not in ours:
            continue
        for operation in migration.operations:
            if not isinstance(operation, AddField):
                continue
            field = operation.field
            if not field.null and not field.many_to_many and field.db_default is NOT_PROVIDED:
                found.add((app, name, operation.model_name, operation.name))
    return found


def test_a_column_added_to_a_table_is_nullable_or_has_a_database_default():
    # A Python-side `default` is not enough: Django drops it from the column, so an INSERT
    # from the previous release, which does not name the column, fails NOT NULL.
    unfillable = columns_added_that_old_code_cannot_fill() - ADDED_BEFORE_THE_RULE
    assert not unfillable, f"give these columns db_default=... or null=True: {unfillable}"
