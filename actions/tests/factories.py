import factory

from actions.models import Action, ActionRun, Command
from conversations.tests.factories import BotFactory, MessageFactory


class ActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Action

    bot = factory.SubFactory(BotFactory)
    name = factory.Sequence(lambda n: f"action-{n}")
    kind = "say"
    config = factory.LazyFunction(lambda: {"text": "Hello!"})


class CommandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Command

    action = factory.SubFactory(ActionFactory)
    bot = factory.SelfAttribute("action.bot")
    word = factory.Sequence(lambda n: f"word{n}")


class ActionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionRun

    message = factory.SubFactory(MessageFactory)
    room = factory.SelfAttribute("message.room")
    bot = factory.SelfAttribute("message.room.bot")
    participant = factory.SelfAttribute("message.participant")
    action = factory.SubFactory(ActionFactory, bot=factory.SelfAttribute("..bot"))
    action_name = factory.SelfAttribute("action.name")
