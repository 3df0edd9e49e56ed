"""Templates and provider accounts over the API.

Templates: list, create and edit (checked before saving), preview with the registry's sample
values, and the registry itself. Provider accounts: the tenant's own accounts per channel, with
credentials that are written but never read back in full, and a test send."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from messaging import hooks
from messaging.config import LOCALES, provider_test_send
from messaging.field_errors import FieldErrors
from messaging.models import Channel, ProviderAccount, Template
from messaging.provider_account_writes import ACCOUNT_FIELDS, provider_account_save
from messaging.template_check import template_check
from messaging.template_writes import TEMPLATE_FIELDS, template_save
from tenants.api_auth import TenantScopedAPIMixin


class _ServiceWriteMixin:
    """Create in the request's tenant and change through the service the settings page uses
    (`write`); its refusals (a check, or the unique constraint a concurrent or repeated write
    can still hit) come back as 400s `{field: [message]}`."""

    def perform_create(self, serializer):
        serializer.instance = self._write(None, serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self._write(serializer.instance, serializer.validated_data)

    def _write(self, instance, fields):
        try:
            return self.write(instance, dict(fields))
        except FieldErrors as exc:
            raise serializers.ValidationError(exc.errors) from exc


class TemplateSerializer(serializers.ModelSerializer):
    locale = serializers.ChoiceField(LOCALES, default="pt-br")
    content_variables = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False
    )

    class Meta:
        model = Template
        fields = ["id", *TEMPLATE_FIELDS, "updated_at"]
        read_only_fields = ["id", "updated_at"]


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
    _ServiceWriteMixin,
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

    def write(self, template: Template | None, fields: dict) -> Template:
        return template_save(tenant=self.tenant, template=template, **fields)

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
        fields = ["id", *ACCOUNT_FIELDS, "credentials", "credentials_masked", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_credentials_masked(self, account) -> dict:
        return account.masked_credentials()


class TestSendSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(Channel.choices)
    recipient = serializers.CharField(max_length=254)


class ProviderAccountViewSet(
    _ServiceWriteMixin,
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

    def write(self, account: ProviderAccount | None, fields: dict) -> ProviderAccount:
        return provider_account_save(tenant=self.tenant, account=account, **fields)

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
