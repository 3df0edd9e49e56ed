"""Templates over the API: list, create and edit (checked before saving), preview with the
registry's sample values, and the registry itself."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants.api_auth import TenantScopedAPIMixin

from . import hooks
from .models import Template
from .template_check import template_check

LOCALES = [("pt-br", "Português (Brasil)"), ("en", "English")]


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
        merged = {
            name: attrs.get(name, getattr(self.instance, name, default))
            for name, default in (
                ("channel", ""),
                ("subject", ""),
                ("body", ""),
                ("content_sid", ""),
                ("content_variables", []),
            )
        }
        check = template_check(**merged)
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


class TemplateViewSet(
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
                {"key": ["A template with this key, channel and locale already exists."]}
            ) from exc

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

    @extend_schema(responses=dict)
    @action(detail=False, methods=["get"])
    def variables(self, request):
        """The registry templates are written against: name, description, sample value."""
        return Response(
            [
                {"name": name, "description": description, "sample": sample}
                for name, (description, sample) in hooks.template_variables().items()
            ]
        )
