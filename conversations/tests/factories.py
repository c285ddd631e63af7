import factory

from conversations.models import Bot, Message, Participant, Room


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"bot-{n}")
    name = factory.Sequence(lambda n: f"Bot {n}")
    names = factory.LazyFunction(lambda: ["hey bot"])


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    bot = factory.SubFactory(BotFactory)
    connector = "webchat"
    external_id = factory.Sequence(lambda n: f"room-{n}")
    is_direct = True


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    bot = factory.SubFactory(BotFactory)
    connector = "webchat"
    external_id = factory.Sequence(lambda n: f"visitor:{n}")
    display_name = factory.Sequence(lambda n: f"Visitor {n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    room = factory.SubFactory(RoomFactory)
    sender_kind = Message.SenderKind.PARTICIPANT
    participant = factory.SubFactory(ParticipantFactory, bot=factory.SelfAttribute("..room.bot"))
    text = "hello"
