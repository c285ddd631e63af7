import pytest
from django.urls import reverse

from actions.models import Command
from chat.messages import message_receive
from conversations.models import Bot
from conversations.tests.factories import bot_admin_form, inbound_message
from integrations.models import AuditEntry

pytestmark = pytest.mark.django_db


def bot_form(bot: Bot, **changes: object) -> dict[str, object]:
    return bot_admin_form(**{"name": bot.name, "slug": bot.slug, "names": "hey bot", **changes})


def test_an_admin_change_is_recorded_with_who_before_and_after(admin_client, admin_user, own):
    response = admin_client.post(
        reverse("admin:conversations_bot_change", args=[own.bot.pk]),
        bot_form(own.bot, name="Renamed in admin"),
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get(model="conversations.bot")
    assert (entry.source, entry.action, entry.user, entry.actor) == (
        "admin",
        "update",
        admin_user,
        admin_user.username,
    )
    assert entry.before["name"] == "Own"
    assert entry.after["name"] == "Renamed in admin"
    assert entry.object_id == str(own.bot.pk)


def test_an_admin_delete_is_recorded_with_what_was_deleted(admin_client, own):
    response = admin_client.post(
        reverse("admin:actions_command_delete", args=[own.command.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Command.objects.filter(pk=own.command.pk).exists()
    entry = AuditEntry.objects.get(model="actions.command")
    assert entry.action == "delete"
    assert entry.before["word"] == "greet"
    assert entry.after is None


def test_deleting_a_bot_logs_its_configuration_not_each_message(api, own):
    api.delete(reverse("api:bot-detail", args=[own.bot.slug]))

    models = set(AuditEntry.objects.values_list("model", flat=True))
    assert {"conversations.bot", "actions.action", "actions.command"} <= models
    assert "conversations.message" not in models


def test_conversations_outside_the_admin_and_the_api_write_no_audit_entries(demo_bot):
    message_receive(inbound=inbound_message("!ping"))

    assert not AuditEntry.objects.exists()


def test_staff_read_the_audit_log_but_cannot_change_or_delete_it(admin_client, api, own):
    api.patch(reverse("api:bot-detail", args=[own.bot.slug]), {"name": "X"}, format="json")
    entry = AuditEntry.objects.get()

    page = admin_client.get(reverse("admin:integrations_auditentry_change", args=[entry.pk]))
    change = admin_client.post(
        reverse("admin:integrations_auditentry_change", args=[entry.pk]), {"actor": "forged"}
    )
    delete = admin_client.post(
        reverse("admin:integrations_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert page.status_code == 200
    assert "X" in page.content.decode()
    assert change.status_code == 403
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert entry.actor != "forged"


def test_an_admin_action_that_updates_in_bulk_is_recorded_too(admin_client, own):
    response = admin_client.post(
        reverse("admin:webhooks_webhookendpoint_changelist"),
        {"action": "endpoints_disable", "_selected_action": [own.webhook_endpoint.pk]},
    )

    assert response.status_code == 302
    entry = AuditEntry.objects.get(model="webhooks.webhookendpoint")
    assert (entry.source, entry.action) == ("admin", "update")
    assert (entry.before["is_enabled"], entry.after["is_enabled"]) == (True, False)
    assert entry.after["disabled_reason"] == "staff"


def test_an_admin_action_with_saves_is_recorded_once_per_row(admin_client, own):
    admin_client.post(
        reverse("admin:integrations_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [own.token.pk]},
    )

    assert AuditEntry.objects.filter(model="integrations.apitoken").count() == 1
