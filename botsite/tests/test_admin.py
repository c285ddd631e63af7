import pytest
from django.contrib import admin
from django.urls import reverse

from actions.models import Action, Command, Pattern
from botsite.admin import BatchedDeleteMixin
from chat.messages import message_receive
from conversations.models import Bot
from conversations.tests.factories import inbound_message

pytestmark = pytest.mark.django_db


def action_form(bot, *, config: str, word: str) -> dict:
    """What the admin's "add action" page posts: the action and one inline command."""
    return {
        "bot": bot.pk,
        "name": "greet",
        "kind": "say",
        "config": config,
        "min_trust": 0,
        "description": "",
        "prompts": "{}",
        "is_enabled": "on",
        "commands-TOTAL_FORMS": 1,
        "commands-INITIAL_FORMS": 0,
        "commands-0-word": word,
        "commands-0-arguments": "{}",
        "patterns-TOTAL_FORMS": 0,
        "patterns-INITIAL_FORMS": 0,
    }


OUR_APPS = {"conversations", "actions", "publishers", "integrations", "webhooks"}
MODEL_ADMINS = [
    model
    for model in admin.site._registry
    if model._meta.app_label in {"conversations", "actions", "publishers"}
]


def test_every_domain_model_is_in_the_admin():
    names = {model.__name__ for model in MODEL_ADMINS}

    assert {
        "Bot",
        "BotMiddleware",
        "Room",
        "Participant",
        "Message",
        "MemoryEntry",
        "Action",
        "Command",
        "Pattern",
        "ResponseTemplate",
        "ActionRun",
        "Publisher",
        "Post",
        "Subscription",
        "Delivery",
    } <= names


@pytest.mark.parametrize("model", MODEL_ADMINS, ids=lambda model: model.__name__)
def test_list_and_search_pages_render_with_data(admin_client, demo_bot, model):
    message_receive(inbound=inbound_message("!help"))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "help"}).status_code == 200
    first = model.objects.first()
    if first is not None:
        change = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]
        )
        assert admin_client.get(change).status_code == 200


def test_a_list_page_survives_a_row_whose_plugin_type_is_gone(admin_client, demo_bot):
    Action.objects.filter(name="ping").update(kind="uninstalled")

    response = admin_client.get(reverse("admin:actions_action_changelist"))

    assert response.status_code == 200
    assert "unavailable (uninstalled)" in response.content.decode()


def test_staff_add_an_action_with_a_command_in_one_form(admin_client, demo_bot):
    response = admin_client.post(
        reverse("admin:actions_action_add"),
        action_form(demo_bot, config='{"text": "Hi!"}', word="greet"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    command = Command.objects.get(word="greet")
    assert command.bot == demo_bot
    assert command.action.config == {"text": "Hi!"}


def test_an_invalid_action_config_is_shown_as_a_form_error_and_saves_nothing(
    admin_client, demo_bot
):
    response = admin_client.post(
        reverse("admin:actions_action_add"),
        action_form(demo_bot, config='{"txt": "Hi!"}', word="hey"),
    )

    assert response.status_code == 200
    assert "text: This field is required." in response.content.decode()
    assert not Action.objects.filter(name="greet").exists()


def test_an_http_json_action_calling_a_private_address_is_a_form_error(admin_client, demo_bot):
    form = action_form(demo_bot, config="", word="weather")
    config = '{"url": "http://[::ffff:169.254.169.254]/?q={query}", "fields": {}, "reply": "x"}'
    form.update(name="weather", kind="http_json", config=config)

    response = admin_client.post(reverse("admin:actions_action_add"), form)

    assert response.status_code == 200
    assert "is a private or local address" in response.content.decode()
    assert not Action.objects.filter(name="weather").exists()


def test_a_duplicate_command_word_is_a_form_error_not_a_crash(admin_client, demo_bot):
    response = admin_client.post(
        reverse("admin:actions_action_add"),
        action_form(demo_bot, config='{"text": "Hi!"}', word="help"),
    )

    assert response.status_code == 200
    assert "already has a command" in response.content.decode()
    assert not Action.objects.filter(name="greet").exists()


def test_bot_names_are_edited_as_comma_separated_text(admin_client, demo_bot):
    url = reverse("admin:conversations_bot_change", args=[demo_bot.pk])
    page = admin_client.get(url).content.decode()
    assert 'value="hey bot, bot"' in page

    response = admin_client.post(
        url,
        {
            "name": "Demo bot",
            "slug": "demo",
            "is_enabled": "on",
            "command_prefix": "!",
            "names": "robo, hey robo, robo",
            "default_mood": "cheerful",
            "fallback_text": "",
            "batch_window_ms": 0,
            "pending_timeout_seconds": 300,
            "middleware_stack-TOTAL_FORMS": 0,
            "middleware_stack-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Bot.objects.get(pk=demo_bot.pk).names == ["robo", "hey robo"]


def test_staff_see_how_a_message_was_understood(admin_client, demo_bot):
    receipt = message_receive(
        inbound=inbound_message("get me the 6th most recent post <b>", participant_name="<Ada>")
    )

    page = admin_client.get(
        reverse("admin:conversations_message_change", args=[receipt.message.id])
    ).content.decode()

    assert "<strong>parse</strong> parser=pattern" in page
    assert "arguments={&#x27;limit&#x27;: 1, &#x27;offset&#x27;: 5}" in page
    assert "<strong>execute</strong> action=latest-post, where=worker" in page


def test_a_pattern_whose_group_fills_no_argument_is_a_form_error_naming_the_arguments(
    admin_client, demo_bot
):
    posts = Action.objects.get(bot=demo_bot, name="latest-post")
    count = Pattern.objects.count()

    response = admin_client.post(
        reverse("admin:actions_pattern_add"),
        {
            "bot": demo_bot.pk,
            "action": posts.pk,
            "regex": r"sunny in (?P<town>\w+)",
            "arguments": "{}",
            "example": "",
            "priority": 0,
            "is_enabled": "on",
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "fills no argument" in page
    assert "this action&#x27;s arguments are: limit, offset, tag" in page
    assert Pattern.objects.count() == count


@pytest.mark.parametrize(
    "model",
    [m for m in admin.site._registry if m._meta.app_label in OUR_APPS],
    ids=lambda model: model.__name__,
)
def test_every_model_admin_of_ours_deletes_in_batches(model):
    assert isinstance(admin.site._registry[model], BatchedDeleteMixin)
