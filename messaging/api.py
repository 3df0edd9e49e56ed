"""Templates and provider accounts over the API.

Templates: list, create and edit (checked before saving), preview with the registry's sample
values, and the registry itself. Provider accounts: the tenant's own accounts per channel, with
credentials that are written but never read back in full, and a test send."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from messaging import hooks
from messaging.config import (
    LOCALES,
    PROVIDER_CONFLICT,
    TEMPLATE_CONFLICT,
    provider_account_errors,
    provider_test_send,
)
from messaging.models import Channel, ProviderAccount, Template
from messaging.template_check import CHECKED_FIELDS, template_check, template_check_values
from tenants.api_auth import TenantScopedAPIMixin


class _TenantSaveMixin:
    """Create in the request's tenant, and turn the unique constraint a concurrent or
    repeated write can still hit into a 400 on `conflict_field`."""

    conflict_field = ""
    conflict_message = ""

    def perform_create(self, serializer):
        self._save(serializer, tenant=self.tenant)

    def perform_update(self, serializer):
        self._save(serializer)

    def _save(self, serializer, **extra):
        try:
            with transaction.atomic():
                serializer.save(**extra)
        except IntegrityError as exc:
            raise serializers.ValidationError(
                {self.conflict_field: [str(self.conflict_message)]}
            ) from exc


class TemplateSerializer(serializers.ModelSerializer):
    locale = serializers.ChoiceField(LOCALES, default="pt-br")
    content_variables = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False
    )

    class Meta:
        model = Template
        fields = [
            "id",
            "key",
            "name",
            "channel",
            "locale",
            "subject",
            "body",
            "content_sid",
            "content_variables",
            "updated_at",
        ]
        read_only_fields = ["id", "updated_at"]

    def validate(self, attrs):
        check = template_check_values(
            {name: attrs.get(name, getattr(self.instance, name, None)) for name in CHECKED_FIELDS}
        )
        if not check.ok:
            raise serializers.ValidationError(check.errors)
        return attrs


class TemplatePreviewSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(["email", "sms", "whatsapp"])
    subject = serializers.CharField(required=False, allow_blank=True, default="")
    body = serializers.CharField(allow_blank=True)
    content_sid = serializers.CharField(required=False, allow_blank=True, default="")
    content_variables = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list
    )


class TemplateVariableSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    sample = serializers.CharField()


class TemplateViewSet(
    _TenantSaveMixin,
    TenantScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Message templates, one per key, channel and locale. Saving checks the syntax, the
    variables (only the registry's, no attribute access), an e-mail's subject, an SMS's length
    in segments and a WhatsApp Content mapping; errors come back per field."""

    serializer_class = TemplateSerializer

    def tenant_queryset(self):
        return Template.objects.order_by("key", "channel", "locale")

    conflict_field = "key"
    conflict_message = TEMPLATE_CONFLICT

    @extend_schema(request=TemplatePreviewSerializer, responses=dict)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Render a template with the registry's sample values, without saving it: the text,
        the subject and HTML of an e-mail, an SMS's encoding and segments, a WhatsApp
        Content template's variables; and the errors saving it would give."""
        data = TemplatePreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        check = template_check(**data.validated_data)
        return Response(
            {"ok": check.ok, "errors": check.errors, "preview": check.preview},
            status=status.HTTP_200_OK,
        )

    @extend_schema(responses=TemplateVariableSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def variables(self, request):
        """The registry templates are written against: name, description, sample value."""
        return Response(
            [
                {"name": name, "description": str(description), "sample": sample}
                for name, (description, sample) in hooks.template_variables().items()
            ]
        )


class ProviderAccountSerializer(serializers.ModelSerializer):
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True), write_only=True, required=False
    )
    credentials_masked = serializers.SerializerMethodField()

    class Meta:
        model = ProviderAccount
        fields = [
            "id",
            "channel",
            "provider",
            "sender",
            "active",
            "credentials",
            "credentials_masked",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_credentials_masked(self, account) -> dict:
        return account.masked_credentials()

    def validate(self, attrs):
        channel = attrs.get("channel", getattr(self.instance, "channel", ""))
        provider = attrs.get("provider", getattr(self.instance, "provider", ""))
        credentials = attrs.get("credentials")
        if credentials is None and self.instance is not None:
            credentials = self.instance.credentials
        errors = provider_account_errors(
            channel=channel, provider=provider, credentials=credentials or {}
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data):
        credentials = validated_data.pop("credentials", {})
        account = ProviderAccount(**validated_data)
        account.credentials = credentials
        account.save()
        return account

    def update(self, instance, validated_data):
        credentials = validated_data.pop("credentials", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if credentials is not None:
            instance.credentials = credentials
        instance.save()
        return instance


class TestSendSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(Channel.choices)
    recipient = serializers.CharField(max_length=254)


class ProviderAccountViewSet(
    _TenantSaveMixin,
    TenantScopedAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The tenant's own provider accounts, at most one active per channel. Credentials are
    encrypted at rest and only ever shown masked. Without an account, a channel uses the
    platform's account from the environment."""

    serializer_class = ProviderAccountSerializer

    def tenant_queryset(self):
        return ProviderAccount.objects.order_by("channel", "id")

    conflict_field = "active"
    conflict_message = PROVIDER_CONFLICT

    @extend_schema(request=TestSendSerializer, responses=dict)
    @action(detail=False, methods=["post"], url_path="test")
    def test_send(self, request):
        """Send a test message now, through the account the channel would use (the
        tenant's, else the platform's), whatever the send window: `ok`, the provider and its
        message id, or the provider's error."""
        data = TestSendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = provider_test_send(tenant=self.tenant, **data.validated_data)
        if not outcome.ok:
            return Response({"ok": False, "error": outcome.error})
        return Response(
            {
                "ok": True,
                "provider": outcome.provider,
                "provider_message_id": outcome.provider_message_id,
            }
        )
