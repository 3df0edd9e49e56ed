"""`POST` of one object or a list: atomic validation of the items, then one write through
the entity's service (create, or upsert by external_id)."""

from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.response import Response

from collections_app.api.fields import item_external_id
from collections_app.api.schema import OneOrManySchema
from collections_app.payments.services import PaymentError


class ReusableSerializers:
    """Validates the items of a list with one serializer for new objects and one for partial
    updates, instead of one per item: DRF builds a serializer's fields anew for each serializer,
    which for a ModelSerializer costs more than checking an item. Each item goes through
    `is_valid()` as with a serializer of its own, so its validated data and errors are the
    same."""

    def __init__(self, build):
        self.build = build
        self.by_partial = {}

    def validate(self, instance, data, *, partial: bool):
        serializer = self.by_partial.get(partial)
        if serializer is None:
            serializer = self.build(instance, data=data, partial=partial)
            self.by_partial[partial] = serializer
        else:
            serializer.instance, serializer.initial_data = instance, data
            for cached in ("_validated_data", "_errors", "_data"):
                vars(serializer).pop(cached, None)
        serializer.is_valid()
        return serializer


class OneOrManyCreateMixin:
    """`POST` takes one object or a list. A list is atomic: one invalid item → 400 with the
    errors per item (empty objects for the valid ones) and nothing written. Subclasses give
    `validate_items(items) -> (validated, errors)` and `write_items(validated) -> [(obj,
    created)]`; the answer is 201 when anything was created, else 200."""

    schema = OneOrManySchema()

    def create(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        items = request.data if many else [request.data]
        if many and not items:
            return Response({"non_field_errors": [_("Empty list.")]}, status=400)
        validated, errors = self.validate_items(items)
        if any(errors):
            return Response(errors if many else errors[0], status=status.HTTP_400_BAD_REQUEST)
        try:
            results = self.write_items(validated)
        except PaymentError as exc:
            return Response({"non_field_errors": [str(exc)]}, status=400)
        data = self.get_serializer([obj for obj, _created in results], many=True).data
        any_created = any(created for _obj, created in results)
        code = status.HTTP_201_CREATED if any_created else status.HTTP_200_OK
        return Response(data if many else data[0], status=code)


class BulkUpsertMixin(OneOrManyCreateMixin):
    """Create-or-update by `external_id` through the entity's upsert service."""

    upsert_service = None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), **self.items_context}

    @cached_property
    def items_context(self) -> dict:
        """What the serializers need to know about the request's items as a whole, worked out
        once per request rather than once per item."""
        return {}

    def validate_items(self, items):
        model = self.get_serializer_class().Meta.model
        ext_ids = [item_external_id(i) for i in items]
        existing = {o.external_id: o for o in model.objects.filter(external_id__in=ext_ids)}
        validators = ReusableSerializers(self.get_serializer)
        seen, validated, errors = set(), [], []
        for item in items:
            if not isinstance(item, dict):
                errors.append({"non_field_errors": [_("Each item must be an object.")]})
                continue
            instance = existing.get(item_external_id(item))
            serializer = validators.validate(instance, item, partial=instance is not None)
            if serializer.errors:
                errors.append(serializer.errors)
                continue
            ext = serializer.validated_data["external_id"]
            if ext in seen:
                errors.append({"external_id": [_("Repeated in this request.")]})
                continue
            seen.add(ext)
            validated.append(serializer.validated_data)
            errors.append({})
        return validated, errors

    def write_items(self, validated):
        return type(self).upsert_service(tenant=self.tenant, items=validated)

    def perform_update(self, serializer):
        # The upsert is keyed by external_id: another one here would write to another object
        # (or create one) instead of the object at this URL.
        data = dict(serializer.validated_data)
        current = serializer.instance.external_id
        if data.setdefault("external_id", current) != current:
            raise serializers.ValidationError(
                {"external_id": [_("Cannot be changed: it identifies this object (%s).") % current]}
            )
        [(obj, _created)] = type(self).upsert_service(tenant=self.tenant, items=[data])
        serializer.instance = obj
