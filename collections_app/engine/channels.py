"""Which channels a message step uses for a customer: the one rule the engine, `explain` and
the forecast share."""

from collections.abc import Container, Mapping

from collections_app.models import ChannelMode, LadderStep


def channels_pick(
    *,
    step: LadderStep,
    preferred: list[str] | None,
    opted_out: list[str] | None,
    reachable: Mapping[str, object],
    invalid: list[str] | None = None,
    templates: Container[tuple[str, str]],
) -> tuple[list[str], str]:
    """The channels a message step uses for a customer, or ([], skip reason).

    `reachable` maps a channel to the customer's address there (anything falsy: none);
    `invalid` lists the channels whose address a provider refused for good;
    `templates` holds the (template key, channel) pairs the tenant has. Preferred channels
    come first when the step falls back; an opt-out is checked before contact data, contact
    data before the template; "fallback" takes the first usable channel, "all" every one."""
    channels = list(step.channels)
    if step.channel_mode == ChannelMode.FALLBACK and preferred:
        first = [c for c in preferred if c in channels]
        channels = first + [c for c in channels if c not in first]
    opted_out = opted_out or []
    chosen, reasons = [], []
    for channel in channels:
        if channel in opted_out:
            reasons.append("opted_out")
        elif not reachable.get(channel):
            reasons.append("no_contact")
        elif invalid and channel in invalid:
            reasons.append("invalid_contact")
        elif (step.template_key, channel) not in templates:
            reasons.append("no_template")
        else:
            chosen.append(channel)
            if step.channel_mode == ChannelMode.FALLBACK:
                break
    if chosen:
        return chosen, ""
    return [], (reasons[0] if len(set(reasons)) == 1 else "no_reachable_channel")
