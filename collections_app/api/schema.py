"""The OpenAPI description of a collection's one-or-many `POST` (OneOrManyCreateMixin)."""

from collections_app.api.errors import ApiAutoSchema


def _one_or_many(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "array", "items": schema, "minItems": 1}]}


class OneOrManySchema(ApiAutoSchema):
    """The collection's `POST` as OneOrManyCreateMixin answers it: one object or a list in,
    the same shape out, 201 when anything was created and 200 when nothing was, and a list's
    400 with one error object per item."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None or self.method != "POST" or self.view.action != "create":
            return operation
        body = operation["requestBody"]["content"]["application/json"]
        body["schema"] = _one_or_many(body["schema"])
        responses = operation["responses"]
        responses["201"]["description"] = "At least one item was created."
        created = responses["201"]["content"]["application/json"]
        created["schema"] = _one_or_many(created["schema"])
        responses["200"] = {
            "content": {"application/json": {"schema": created["schema"]}},
            "description": "Nothing new: every item was already there (and is updated).",
        }
        invalid = responses["400"]["content"]["application/json"]
        invalid["schema"] = _one_or_many(invalid["schema"])
        operation["responses"] = dict(sorted(responses.items()))
        return operation
