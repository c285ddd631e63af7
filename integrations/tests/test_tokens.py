import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.tests.factories import BotFactory
from integrations.models import ApiToken, AuditEntry, secret_hash
from integrations.services import LAST_USED_RESOLUTION
from integrations.tests.conftest import client_for
from integrations.tests.factories import token_make

pytestmark = pytest.mark.django_db


def test_staff_create_a_token_in_the_admin_and_see_its_secret_once(admin_client, admin_user):
    bot = BotFactory()

    response = admin_client.post(
        reverse("admin:integrations_apitoken_add"),
        {"name": "CRM sync", "user": admin_user.pk, "bots": [bot.pk], "scope": "write"},
    )

    assert response.status_code == 200
    secret = re.search(r"(bst_[0-9a-f]{12}_[\w-]+)", response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert token.secret_hash == secret_hash(secret.split("_", 2)[2])
    assert secret not in str(list(ApiToken.objects.values()))
    assert client_for(secret).get(reverse("api:bot-detail", args=[bot.slug])).status_code == 200
    page = admin_client.get(reverse("admin:integrations_apitoken_change", args=[token.pk]))
    assert secret.split("_", 2)[2] not in page.content.decode()
    entry = AuditEntry.objects.get(model="integrations.apitoken", action="create")
    assert entry.source == "admin"
    assert entry.after["secret_hash"] == "(hidden)"


def test_the_revoke_admin_action_locks_the_token_out(admin_client, own):
    response = admin_client.post(
        reverse("admin:integrations_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [own.token.pk]},
    )

    assert response.status_code == 302
    answer = client_for(own.secret).get(reverse("api:bot-list"))
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_revoked"


def test_last_used_is_written_at_most_once_per_resolution(own, django_assert_num_queries):
    client = client_for(own.secret)
    client.get(reverse("api:bot-list"))
    own.token.refresh_from_db()
    first = own.token.last_used_at
    assert first is not None

    client.get(reverse("api:bot-list"))
    own.token.refresh_from_db()
    assert own.token.last_used_at == first

    ApiToken.objects.filter(pk=own.token.pk).update(
        last_used_at=timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    )
    client.get(reverse("api:bot-list"))
    own.token.refresh_from_db()
    assert own.token.last_used_at > first


def test_a_token_creates_a_narrower_token_whose_secret_is_shown_once(own, api):
    response = api.post(
        reverse("api:token-list"),
        {"name": "Reporting", "bots": [own.bot.slug], "scope": "read"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith(body["prefix"] + "_")
    child = ApiToken.objects.get(pk=body["id"])
    assert child.user == own.token.user
    assert child.may_create_tokens is False
    listed = api.get(reverse("api:token-detail", args=[child.pk])).json()
    assert "token" not in listed
    reader = client_for(body["token"])
    assert reader.get(reverse("api:bot-list")).status_code == 200
    assert reader.post(reverse("api:bot-list"), {}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"scope": "write"}, "read-only"),  # refused before the view: a read token may not POST
        ({"expires_at": None}, "expire"),
        ({"may": False}, "may not"),
    ],
)
def test_a_token_cannot_create_a_wider_token(own, change, reason):
    own.token.expires_at = timezone.now() + timedelta(days=1)
    own.token.scope = "read" if "scope" in change else "write"
    own.token.may_create_tokens = "may" not in change
    own.token.save()
    payload = {
        "name": "Wider",
        "bots": [own.bot.slug],
        "scope": change.get("scope", "read"),
        "expires_at": change.get("expires_at", own.token.expires_at.isoformat()),
    }

    response = client_for(own.secret).post(reverse("api:token-list"), payload, format="json")

    assert response.status_code == 403
    assert reason in response.json()["detail"]
    assert ApiToken.objects.count() == 1


def test_an_integrator_sees_only_its_own_tokens(api, own, foreign):
    listed = api.get(reverse("api:token-list")).json()["results"]

    assert [row["id"] for row in listed] == [own.token.pk]


def test_a_token_of_an_inactive_user_is_refused(own):
    own.token.user.is_active = False
    own.token.user.save()

    response = client_for(own.secret).get(reverse("api:bot-list"))

    assert response.status_code == 401


def test_a_token_that_creates_a_bot_reaches_it(api, own):
    response = api.post(reverse("api:bot-list"), {"slug": "fresh", "name": "Fresh"}, format="json")

    assert response.status_code == 201
    assert api.get(reverse("api:bot-detail", args=["fresh"])).status_code == 200
    other = client_for(token_make([own.bot])[1])
    assert other.get(reverse("api:bot-detail", args=["fresh"])).status_code == 404
