"""Serializers of the REST API. Validation is the models' own (`full_clean`: fields, `clean()`,
plugin config forms, constraints), the same the admin runs; none is repeated here."""

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers
from rest_framework.settings import api_settings

from actions.models import Action, Command, Pattern, ResponseTemplate
from botsite.fields import StringListField
from conversations.models import (
    Bot,
    BotMiddleware,
    Connector,
    MemoryEntry,
    Message,
    Participant,
    Room,
)
from integrations.models import ApiToken, EventDelivery, EventHook
from integrations.tenancy import BOT_PATHS, tenant_scope
from publishers.models import Delivery, Post, Publisher, Subscription
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_url_check


class BotSlugField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Bot.objects.all())
        super().__init__(slug_field="slug", **kwargs)


class StringListSerializerField(serializers.ListField):
    """A list of short strings (names, origins, tags), as the admin's comma-separated field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        super().__init__(child=serializers.CharField(max_length=200), **kwargs)


class TenantModelSerializer(serializers.ModelSerializer):
    """Related fields offer only the caller's objects (another tenant's id is a 400), and
    `validate` runs the model's `full_clean`, so the API refuses exactly what the admin does."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        StringListField: StringListSerializerField,
    }
    #: Model fields `full_clean` leaves to the service that saves the row.
    clean_exclude: list[str] = []

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        for field in fields.values():
            relation = getattr(field, "child_relation", field)
            queryset = getattr(relation, "queryset", None)
            if request is not None and queryset is not None and queryset.model in BOT_PATHS:
                relation.queryset = tenant_scope(queryset, request)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        many = {field.name for field in model._meta.many_to_many}
        # Django lets a blank JSON field hold None through full_clean; the column does not.
        nulls = [
            name
            for name, value in attrs.items()
            if value is None and name not in many and not model._meta.get_field(name).null
        ]
        if nulls:
            raise serializers.ValidationError(
                {name: ["This field may not be null."] for name in nulls}
            )
        for name, value in attrs.items():
            if name not in many:
                setattr(instance, name, value)
        try:
            instance.full_clean(exclude=[*many, *self.clean_exclude])
        except DjangoValidationError as error:
            raise serializers.ValidationError(_errors(error)) from error
        # `clean()` may normalise values (plugin configs, lower-case tags): keep its result.
        return {
            name: value if name in many else getattr(instance, name)
            for name, value in attrs.items()
        }


def _errors(error: DjangoValidationError) -> Any:
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else name): messages
        for name, messages in error.message_dict.items()
    }


def _model_fields(model: type[models.Model], *exclude: str) -> list[str]:
    return [
        field.name
        for field in model._meta.get_fields()
        if field.concrete and field.name not in exclude
    ]


class BotSerializer(TenantModelSerializer):
    class Meta:
        model = Bot
        fields = _model_fields(Bot)
        read_only_fields = ["created_at", "updated_at"]


class BotMiddlewareSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = BotMiddleware
        fields = _model_fields(BotMiddleware)


class ActionSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = Action
        fields = _model_fields(Action)
        read_only_fields = ["created_at", "updated_at"]


class CommandSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = Command
        fields = _model_fields(Command)


class PatternSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = Pattern
        fields = _model_fields(Pattern)


class ResponseTemplateSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = ResponseTemplate
        fields = _model_fields(ResponseTemplate)


class RoomSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = Room
        fields = _model_fields(Room)
        # A connector's rooms are made as its bridge meets them.
        read_only_fields = ["created_at", "via"]


class ConnectorSerializer(TenantModelSerializer):
    """A bot's account on a network held by the bridge. `password` is write-only and
    stored sealed; `has_password` says whether one is stored."""

    bot = BotSlugField()
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, max_length=500
    )
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = [*_model_fields(Connector, "secret_sealed"), "password", "has_password"]
        read_only_fields = [
            "status",
            "status_detail",
            "joined",
            "lag_ms",
            "last_in_at",
            "last_out_at",
            "lease_holder",
            "lease_until",
            "created_at",
        ]

    def get_has_password(self, connector: Connector) -> bool:
        return bool(connector.secret_sealed)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = attrs.pop("password", None)
        attrs = super().validate(attrs)
        if password is not None:
            attrs["password"] = password
        return attrs


class ParticipantSerializer(TenantModelSerializer):
    bot = BotSlugField(read_only=True)

    class Meta:
        model = Participant
        fields = _model_fields(Participant, "user")
        read_only_fields = [
            "connector",
            "external_id",
            "display_name",
            "created_at",
            "last_seen_at",
        ]


class MessageSerializer(TenantModelSerializer):
    class Meta:
        model = Message
        fields = _model_fields(Message, "expires_at")
        read_only_fields = fields


class MemoryEntrySerializer(TenantModelSerializer):
    bot = BotSlugField(read_only=True)

    class Meta:
        model = MemoryEntry
        fields = _model_fields(MemoryEntry)
        read_only_fields = fields


class PublisherSerializer(TenantModelSerializer):
    bot = BotSlugField()

    class Meta:
        model = Publisher
        fields = _model_fields(Publisher, "periodic_task", "source_seen")
        read_only_fields = ["status", "last_run_at", "last_error", "created_at", "updated_at"]


class PostSerializer(TenantModelSerializer):
    clean_exclude = ["source_id"]  # post_create makes one for posts written here

    class Meta:
        model = Post
        fields = _model_fields(Post)
        read_only_fields = ["source_id", "created_at"]


class SubscriptionSerializer(TenantModelSerializer):
    class Meta:
        model = Subscription
        fields = _model_fields(Subscription)
        read_only_fields = ["created_at"]


class DeliverySerializer(TenantModelSerializer):
    class Meta:
        model = Delivery
        fields = _model_fields(Delivery)
        read_only_fields = fields


class WebhookEndpointSerializer(TenantModelSerializer):
    bot = BotSlugField(required=False, allow_null=True)
    clean_exclude = ["secret"]  # made by webhook_endpoint_create

    class Meta:
        model = WebhookEndpoint
        fields = _model_fields(WebhookEndpoint, "secret")
        read_only_fields = WebhookEndpoint.RUNTIME_FIELDS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context.get("request")
        is_token = request is not None and isinstance(request.auth, ApiToken)
        bot = attrs.get("bot", getattr(self.instance, "bot", None))
        if is_token and bot is None:
            raise serializers.ValidationError({"bot": ["A token's endpoints belong to a bot."]})
        if "url" in attrs:
            try:
                webhook_url_check(attrs["url"])
            except WebhookUrlRefused as error:
                raise serializers.ValidationError({"url": [error.detail]}) from error
        return super().validate(attrs)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…), shown this once only."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret, shown this once only.")


class EventHookSerializer(TenantModelSerializer):
    class Meta:
        model = EventHook
        fields = _model_fields(EventHook, "send_lease_until")
        read_only_fields = ["last_message_id", "last_publisher_run_id", "created_at"]


class EventDeliverySerializer(TenantModelSerializer):
    class Meta:
        model = EventDelivery
        fields = _model_fields(EventDelivery)
        read_only_fields = fields


class ConnectionTestSerializer(serializers.Serializer):
    connected = serializers.BooleanField(help_text="The network took the bot.")
    detail = serializers.CharField(help_text="What happened, as the admin shows it.")


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many rows the operation changed.")


class ApiTokenSerializer(TenantModelSerializer):
    bots = BotSlugField(many=True)
    prefix = serializers.CharField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "bots",
            "scope",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "created_at",
        ]
        read_only_fields = ["revoked_at", "last_used_at", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return attrs  # api_token_create runs the model's full_clean with the owner set


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret, shown this once only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
