"""Validation errors (DRF's or a service's) flattened for the configuration pages' forms."""


def messages_of(errors) -> list[str]:
    """DRF or LadderError messages, flattened (list fields report per item)."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in messages_of(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in messages_of(value)]
    return [str(errors)]


def field_errors(errors: dict) -> dict[str, list[str]]:
    return {field: messages_of(value) for field, value in errors.items()}
