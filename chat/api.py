"""A conversation over HTTP: a participant's message posted, the bot's replies awaited.

The endpoint itself, with its tokens, scopes and `Idempotency-Key`, is the REST API's
(`integrations/conversation.py`); this is what it asks of the chat.
"""

from dataclasses import dataclass
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from actions.selectors import replies_wait
from chat.messages import message_receive
from conversations.connectors.base import ConnectorIdentity, inbound_text_problem
from conversations.connectors.builtin.api import ApiConnector

MAX_WAIT_SECONDS = 30

_connector = ApiConnector()


class InboundTextField(serializers.CharField):
    """Text from outside, refused as every connector refuses it (`inbound_text_problem`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # DRF's own NUL and surrogate checks: the same refusal, said in other words.
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        problem = inbound_text_problem(text)
        if problem is not None:
            raise serializers.ValidationError(f"This field {problem}.", code="invalid_text")
        return text


class MessageInputSerializer(serializers.Serializer):
    text = InboundTextField(max_length=4000, trim_whitespace=True)
    participant = InboundTextField(
        max_length=150, help_text="The integrator's id of the person who wrote the message."
    )
    participant_name = InboundTextField(max_length=150, required=False)
    room = InboundTextField(
        max_length=200, required=False, help_text="A conversation id; default: one per participant."
    )
    client_id = serializers.UUIDField(required=False, help_text="Makes a retried post safe.")
    wait = serializers.FloatField(
        required=False, min_value=0, max_value=MAX_WAIT_SECONDS, default=5,
        help_text="Seconds to wait for replies from queued actions.",
    )  # fmt: skip


@dataclass(frozen=True)
class MessageAnswer:
    """A message posted over HTTP, as the API connector renders it, with its replies."""

    body: dict[str, Any]
    #: False: queued replies are still coming (the caller answers 202).
    is_complete: bool


def message_answer(*, bot_slug: str, data: dict[str, Any]) -> MessageAnswer:
    """Receive a message validated by `MessageInputSerializer`, and wait up to its `wait`
    for the replies of the calls it queued."""
    participant = data["participant"]
    room = data.get("room") or f"participant:{participant}"
    identity = ConnectorIdentity(
        bot_slug=bot_slug,
        room_external_id=room,
        participant_external_id=participant,
        participant_name=data.get("participant_name") or participant,
        is_direct=not data.get("room"),
    )
    receipt = message_receive(inbound=_connector.parse(data, identity))
    replies, is_complete = replies_wait(message_id=receipt.message.id, timeout_seconds=data["wait"])
    body = {
        "message": _connector.render(receipt.message),
        "replies": [_connector.render(reply) for reply in replies],
        "is_complete": is_complete,
        "is_duplicate": receipt.is_duplicate,
    }
    return MessageAnswer(body, is_complete)
