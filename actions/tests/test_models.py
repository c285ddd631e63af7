import pytest
from django.core.exceptions import ValidationError

from actions.models import Action, Command, Pattern
from actions.tests.factories import ActionFactory, CommandFactory
from conversations.tests.factories import BotFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "regex",
    [
        r"(a+)+$",  # catastrophic for backtracking engines; linear under RE2
        r"get me the (?P<limit>\d+|three) most recent posts?(?: about (?P<tag>\w+))?",
    ],
)
def test_patterns_that_re2_compiles_are_accepted(regex):
    action = ActionFactory(kind="latest_posts", config={})

    Pattern(bot=action.bot, action=action, regex=regex).full_clean()


@pytest.mark.parametrize(
    "regex",
    [r"(a)\1", r"foo(?=bar)", r"(unclosed", "x" * 1001],
    ids=["backreference", "lookahead", "syntax", "too long"],
)
def test_patterns_that_cannot_run_safely_are_refused_with_a_form_error(regex):
    action = ActionFactory()

    with pytest.raises(ValidationError) as caught:
        Pattern(bot=action.bot, action=action, regex=regex).full_clean()

    assert "regex" in caught.value.message_dict


def test_an_action_config_is_checked_by_its_type():
    bot = BotFactory()

    with pytest.raises(ValidationError) as caught:
        Action(bot=bot, name="hello", kind="say", config={}).full_clean()

    assert caught.value.message_dict["config"] == ["text: This field is required."]


def test_an_action_of_an_uninstalled_type_is_refused():
    with pytest.raises(ValidationError) as caught:
        Action(bot=BotFactory(), name="x", kind="teleport", config={}).full_clean()

    assert "kind" in caught.value.message_dict


def test_a_command_must_call_an_action_of_its_own_bot():
    action = ActionFactory()

    with pytest.raises(ValidationError) as caught:
        Command(bot=BotFactory(), word="hi", action=action).full_clean()

    assert caught.value.message_dict["action"] == ["The action belongs to another bot."]


def test_a_command_word_is_unique_per_bot_even_across_actions():
    command = CommandFactory(word="hello")
    other_action = ActionFactory(bot=command.bot)

    with pytest.raises(ValidationError) as caught:
        Command(bot=command.bot, word="hello", action=other_action).full_clean()

    assert "already has a command 'hello'" in str(caught.value)
    CommandFactory(word="hello")  # another bot may use the word


@pytest.mark.parametrize("word", ["Hello", "two words", "-x", ""])
def test_command_words_are_lowercase_slugs(word):
    action = ActionFactory()

    with pytest.raises(ValidationError):
        Command(bot=action.bot, word=word, action=action).full_clean()


def test_pattern_arguments_are_checked_against_the_action_and_its_groups():
    action = ActionFactory(kind="latest_posts", config={})

    Pattern(
        bot=action.bot,
        action=action,
        regex=r"the (?P<nth>\w+) post",
        arguments={"offset": {"group": "nth", "as": "ordinal", "add": -1}},
    ).full_clean()
    with pytest.raises(ValidationError) as caught:
        Pattern(
            bot=action.bot,
            action=action,
            regex=r"the (?P<nth>\w+) post",
            arguments={"offset": {"group": "position", "as": "ordinal"}},
        ).full_clean()

    assert caught.value.message_dict["arguments"] == [
        "'offset': the pattern has no group 'position'."
    ]


@pytest.mark.parametrize(
    ("regex", "arguments", "detail"),
    [
        (r"sunny in (?P<town>\w+)", {}, "this action's arguments are: limit, offset, tag"),
        (r"the (?P<limit>\w+) posts", {"limit": 1}, "its argument has a fixed value"),
        (r"the (?P<nth>\w+) post", {}, "this action's arguments are: limit, offset, tag"),
    ],
)
def test_a_pattern_group_that_fills_no_argument_is_refused_naming_the_arguments(
    regex, arguments, detail
):
    action = ActionFactory(kind="latest_posts", config={})

    with pytest.raises(ValidationError) as caught:
        Pattern(bot=action.bot, action=action, regex=regex, arguments=arguments).full_clean()

    [message] = caught.value.message_dict["regex"]
    assert "fills no argument" in message
    assert detail in message


def test_command_arguments_must_name_arguments_of_the_action():
    action = ActionFactory(kind="latest_posts", config={})

    with pytest.raises(ValidationError) as caught:
        Command(bot=action.bot, word="news", action=action, arguments={"count": 3}).full_clean()

    assert "'count' is not an argument of this action" in caught.value.message_dict["arguments"][0]
