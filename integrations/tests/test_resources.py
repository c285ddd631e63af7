"""Every router endpoint, table-driven: happy paths, validation, foreign tenants, token rights.

A new endpoint without a row in ENDPOINTS fails `test_every_router_endpoint_has_a_row`."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from actions.models import ActionRun
from actions.services import action_run_execute
from chat.messages import message_receive
from conversations.models import Bot
from conversations.tests.factories import inbound_message
from integrations.models import ApiToken, AuditEntry
from integrations.services import api_token_create
from integrations.tests.conftest import client_for
from integrations.tests.factories import Tenant, token_expired, token_make
from integrations.urls import router

Payload = Callable[[Tenant], dict[str, Any]]
Foreign = Callable[[Tenant, Tenant], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    basename: str
    obj: Callable[[Tenant], Any]
    create: Payload | None = None
    update: Payload | None = None
    invalid: tuple[Payload, str] | None = None
    foreign_related: tuple[Foreign, str] | None = None
    can_delete: bool = True
    lookup: str = "pk"

    def __str__(self) -> str:
        return self.basename

    def list_url(self) -> str:
        return reverse(f"api:{self.basename}-list")

    def detail_url(self, tenant: Tenant) -> str:
        return reverse(f"api:{self.basename}-detail", args=[getattr(self.obj(tenant), self.lookup)])

    @property
    def model(self) -> Any:
        return router_viewset(self.basename).queryset.model


def router_viewset(basename: str) -> Any:
    return next(viewset for _, viewset, name in router.registry if name == basename)


def sibling_token(tenant: Tenant) -> ApiToken:
    """Another token of the tenant's integrator (the one in use must stay valid)."""
    existing = ApiToken.objects.filter(user=tenant.token.user, name="sibling").first()
    if existing:
        return existing
    return api_token_create(
        name="sibling", user=tenant.token.user, bots=[tenant.bot], scope="read"
    )[0]


IRC = {"host": "127.0.0.1", "port": 6667, "nick": "newbot", "channels": ["#new"]}
#: The connector's IRC server, on loopback, is one operators allowed (`network_servers`).
pytestmark = pytest.mark.usefixtures("network_servers")

ENDPOINTS = [
    Endpoint(
        "connector",
        lambda t: t.connector,
        create=lambda t: {"bot": t.bot.slug, "kind": "irc", "name": "new", "config": IRC},
        update=lambda t: {"is_enabled": False},
        invalid=(lambda t: {"config": {**IRC, "channels": ["no-hash"]}}, "config"),
    ),
    Endpoint(
        "bot",
        lambda t: t.bot,
        create=lambda t: {"slug": "new-bot", "name": "New bot"},
        update=lambda t: {"name": "Renamed"},
        invalid=(lambda t: {"allowed_origins": ["not an origin"]}, "allowed_origins"),
        lookup="slug",
    ),
    Endpoint(
        "middleware",
        lambda t: t.middleware,
        create=lambda t: {"bot": t.bot.slug, "kind": "usage_cap", "config": {"per_day": 5}},
        update=lambda t: {"position": 3},
        invalid=(lambda t: {"kind": "usage_cap", "config": {"per_day": 0}}, "config"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "action",
        lambda t: t.action,
        create=lambda t: {
            "bot": t.bot.slug,
            "name": "shout",
            "kind": "say",
            "config": {"text": "HEY"},
        },
        update=lambda t: {"description": "Says hi"},
        invalid=(lambda t: {"config": {"text": ""}}, "config"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "command",
        lambda t: t.command,
        create=lambda t: {"bot": t.bot.slug, "word": "hello", "action": t.action.pk},
        update=lambda t: {"word": "hey"},
        invalid=(lambda t: {"word": "Bad Word!"}, "word"),
        foreign_related=(lambda t, f: {"action": f.action.pk}, "action"),
    ),
    Endpoint(
        "pattern",
        lambda t: t.pattern,
        create=lambda t: {"bot": t.bot.slug, "action": t.action.pk, "regex": "good morning"},
        update=lambda t: {"priority": 5},
        invalid=(lambda t: {"regex": "(unclosed"}, "regex"),
        foreign_related=(lambda t, f: {"action": f.action.pk}, "action"),
    ),
    Endpoint(
        "response-template",
        lambda t: t.response_template,
        create=lambda t: {"bot": t.bot.slug, "key": "hello", "text": "Hello {participant}"},
        update=lambda t: {"text": "Yo"},
        invalid=(lambda t: {"text": "{unclosed"}, "text"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "room",
        lambda t: t.room,
        create=lambda t: {"bot": t.bot.slug, "connector": "api", "external_id": "crm-1"},
        update=lambda t: {"title": "Support"},
        invalid=(lambda t: {"mood": "NOT A MOOD"}, "mood"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "participant",
        lambda t: t.participant,
        update=lambda t: {"trust_level": 50, "is_ignored": True},
        invalid=(lambda t: {"trust_level": 7}, "trust_level"),
        can_delete=False,
    ),
    Endpoint("message", lambda t: t.message, can_delete=False),
    Endpoint("memory-entry", lambda t: t.memory_entry),
    Endpoint(
        "publisher",
        lambda t: t.publisher,
        create=lambda t: {"bot": t.bot.slug, "slug": "blog", "name": "Blog", "kind": "manual"},
        update=lambda t: {"interval_seconds": 60},
        invalid=(lambda t: {"interval_seconds": 5}, "interval_seconds"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "post",
        lambda t: t.post,
        create=lambda t: {"publisher": t.publisher.pk, "source_id": "2", "title": "Second"},
        update=lambda t: {"title": "Renamed"},
        invalid=(lambda t: {"link": "not a url"}, "link"),
        foreign_related=(lambda t, f: {"publisher": f.publisher.pk}, "publisher"),
    ),
    Endpoint(
        "subscription",
        lambda t: t.subscription,
        create=lambda t: {
            "publisher": t.publisher.pk,
            "destination": "email",
            "email": "ada@example.com",
        },
        update=lambda t: {"tag": "golang"},
        invalid=(lambda t: {"email": "ada@example.com"}, "email"),
        foreign_related=(lambda t, f: {"room": f.room.pk}, "room"),
    ),
    Endpoint("delivery", lambda t: t.delivery, can_delete=False),
    Endpoint(
        "webhook-endpoint",
        lambda t: t.webhook_endpoint,
        create=lambda t: {"bot": t.bot.slug, "url": "http://127.0.0.1:9/hook"},
        update=lambda t: {"description": "CRM"},
        invalid=(lambda t: {"url": "http://10.1.2.3/hook"}, "url"),
        foreign_related=(lambda t, f: {"bot": f.bot.slug}, "bot"),
    ),
    Endpoint(
        "event-hook",
        lambda t: t.event_hook,
        create=lambda t: {"endpoint": t.webhook_endpoint.pk, "events": ["message.received"]},
        update=lambda t: {"events": ["reply.sent", "publisher.failing"]},
        invalid=(lambda t: {"events": ["message.deleted"]}, "events"),
        foreign_related=(lambda t, f: {"endpoint": f.webhook_endpoint.pk}, "endpoint"),
    ),
    Endpoint("event-delivery", lambda t: t.event_delivery, can_delete=False),
    Endpoint(
        "token",
        sibling_token,
        create=lambda t: {"name": "Reporting", "bots": [t.bot.slug], "scope": "read"},
        invalid=(lambda t: {"name": "x", "bots": [t.bot.slug], "scope": "admin"}, "scope"),
        foreign_related=(lambda t, f: {"bots": [f.bot.slug]}, "bots"),
    ),
]
WRITABLE = [e for e in ENDPOINTS if e.create]
UPDATABLE = [e for e in ENDPOINTS if e.update]
INVALID = [e for e in ENDPOINTS if e.invalid]
FOREIGN_RELATED = [e for e in ENDPOINTS if e.foreign_related]
DELETABLE = [e for e in ENDPOINTS if e.can_delete]


def test_every_router_endpoint_has_a_row():
    assert {name for _, _, name in router.registry} == {e.basename for e in ENDPOINTS}


def _ids(body: dict[str, Any], lookup: str) -> set[Any]:
    return {row[lookup if lookup != "pk" else "id"] for row in body["results"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_list_holds_only_the_tokens_own_rows(endpoint, api, own, foreign):
    own_value = getattr(endpoint.obj(own), endpoint.lookup)
    foreign_value = getattr(endpoint.obj(foreign), endpoint.lookup)

    response = api.get(endpoint.list_url())

    assert response.status_code == 200, response.json()
    assert own_value in _ids(response.json(), endpoint.lookup)
    assert foreign_value not in _ids(response.json(), endpoint.lookup)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_an_own_row_reads_and_a_foreign_one_is_a_404(endpoint, api, own, foreign):
    assert api.get(endpoint.detail_url(own)).status_code == 200

    response = api.get(endpoint.detail_url(foreign))

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": response.json()["detail"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_writes_to_a_foreign_row_are_404_and_change_nothing(endpoint, api, own, foreign):
    target = endpoint.obj(foreign)
    before = AuditEntry.objects.count()

    patched = api.patch(endpoint.detail_url(foreign), {}, format="json")
    deleted = api.delete(endpoint.detail_url(foreign))

    assert patched.status_code in (404, 405)
    assert deleted.status_code in (404, 405)
    assert endpoint.model.objects.filter(pk=target.pk).exists()
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("endpoint", WRITABLE, ids=str)
def test_a_create_is_stored_and_audited(endpoint, api, own):
    count = endpoint.model.objects.count()

    response = api.post(endpoint.list_url(), endpoint.create(own), format="json")

    assert response.status_code == 201, response.json()
    assert endpoint.model.objects.count() == count + 1
    entry = AuditEntry.objects.filter(
        action="create", model=endpoint.model._meta.label_lower
    ).latest("id")
    assert entry.source == "api"
    assert entry.token == own.token
    assert entry.model == endpoint.model._meta.label_lower
    assert entry.before is None
    assert entry.after is not None


@pytest.mark.parametrize("endpoint", UPDATABLE, ids=str)
def test_an_update_is_stored_and_audited_with_before_and_after(endpoint, api, own):
    changes = endpoint.update(own)

    response = api.patch(endpoint.detail_url(own), changes, format="json")

    assert response.status_code == 200, response.json()
    for name, value in changes.items():
        assert response.json()[name] == value
    entry = AuditEntry.objects.get(action="update", model=endpoint.model._meta.label_lower)
    assert entry.token == own.token
    assert entry.actor.endswith(f"via token {own.token.prefix}")
    for name, value in changes.items():
        assert entry.after[name] == value
        assert entry.before[name] != value


@pytest.mark.parametrize("endpoint", INVALID, ids=str)
def test_invalid_input_is_a_400_with_field_errors_and_changes_nothing(endpoint, api, own):
    payload_for, field = endpoint.invalid
    count = endpoint.model.objects.count()

    if endpoint.update:
        response = api.patch(endpoint.detail_url(own), payload_for(own), format="json")
    else:
        response = api.post(endpoint.list_url(), payload_for(own), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert endpoint.model.objects.count() == count
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("endpoint", FOREIGN_RELATED, ids=str)
def test_a_related_field_pointing_at_another_tenant_is_a_400(endpoint, api, own, foreign):
    payload_for, field = endpoint.foreign_related
    count = endpoint.model.objects.count()

    response = api.post(
        endpoint.list_url(), {**endpoint.create(own), **payload_for(own, foreign)}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert endpoint.model.objects.count() == count
    if endpoint.update:
        patched = api.patch(endpoint.detail_url(own), payload_for(own, foreign), format="json")
        assert patched.status_code == 400
        assert field in patched.json()["fields"]


@pytest.mark.parametrize("endpoint", DELETABLE, ids=str)
def test_a_delete_removes_the_row_and_is_audited(endpoint, api, own):
    target = endpoint.obj(own)

    response = api.delete(endpoint.detail_url(own))

    assert response.status_code == 204
    if endpoint.basename == "token":  # tokens are revoked, kept for the audit log
        target.refresh_from_db()
        assert target.revoked_at is not None
    else:
        assert not endpoint.model.objects.filter(pk=target.pk).exists()
    assert AuditEntry.objects.filter(
        model=endpoint.model._meta.label_lower, object_id=str(target.pk)
    ).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_read_only_token_reads_but_every_write_is_a_403(endpoint, own):
    _, secret = token_make([own.bot], scope="read")
    reader = client_for(secret)
    target = endpoint.obj(own)

    assert reader.get(endpoint.list_url()).status_code == 200
    writes = [
        reader.post(endpoint.list_url(), {}, format="json"),
        reader.patch(endpoint.detail_url(own), {}, format="json"),
        reader.delete(endpoint.detail_url(own)),
    ]

    for response in writes:
        assert response.status_code in (403, 405)
        if response.status_code == 403:
            assert response.json()["code"] == "read_only_token"
    assert endpoint.model.objects.filter(pk=target.pk).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_revoked_expired_and_missing_tokens_are_401(endpoint, own):
    revoked, revoked_secret = token_make([own.bot])
    revoked.revoked_at = revoked.created_at
    revoked.save()

    answers = {
        "revoked": client_for(revoked_secret).get(endpoint.list_url()),
        "expired": client_for(token_expired(own.bot)).get(endpoint.list_url()),
        "wrong": client_for(own.secret[:-2] + "xx").get(endpoint.list_url()),
        "malformed": client_for("").get(endpoint.list_url()),
        "none": APIClient().get(endpoint.list_url()),
    }

    codes = {name: (r.status_code, r.json()["code"]) for name, r in answers.items()}
    assert codes == {
        "revoked": (401, "token_revoked"),
        "expired": (401, "token_expired"),
        "wrong": (401, "token_invalid"),
        "malformed": (401, "authentication_failed"),
        "none": (401, "not_authenticated"),
    }
    assert answers["none"]["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_pattern_whose_group_fills_no_argument_is_a_400_naming_the_arguments(api, own):
    posts = own.bot.actions.create(name="posts", kind="latest_posts", config={})
    count = own.bot.patterns.count()

    response = api.post(
        reverse("api:pattern-list"),
        {"bot": own.bot.slug, "action": posts.pk, "regex": r"posts about (?P<topic>\w+)"},
        format="json",
    )

    assert response.status_code == 400
    [message] = response.json()["fields"]["regex"]
    assert "(?P<topic>…) fills no argument" in message
    assert "limit, offset, tag" in message
    assert own.bot.patterns.count() == count


def test_a_bot_created_through_the_api_answers_help_from_its_first_message(api):
    response = api.post(reverse("api:bot-list"), {"slug": "fresh", "name": "Fresh"}, format="json")

    assert response.status_code == 201, response.json()
    receipt = message_receive(inbound=inbound_message("!help", bot_slug="fresh"))
    [run] = ActionRun.objects.filter(message_id=receipt.message.id)
    [reply] = action_run_execute(run_id=run.pk)
    assert reply.text == (
        "Fresh understands these commands:\n"
        "!help — Lists the bot's commands and what each one does."
    )
    bot = Bot.objects.get(slug="fresh")
    assert list(bot.middleware_stack.values_list("kind", flat=True)) == ["ignore_list"]
