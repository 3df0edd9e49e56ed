"""The one error the messaging settings' write services raise: messages per field, which the
settings pages put beside their fields and the API answers as a 400 `{field: [message]}`."""


class FieldErrors(ValueError):
    """A write refused: `errors` maps each field to its messages (a name the caller has no
    field for, such as `credentials`, is about the object as a whole)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors
