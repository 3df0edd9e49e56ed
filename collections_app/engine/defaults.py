"""What every new tenant starts with: one default ladder following the brief and cordial
pt-BR templates for each step, so reminders go out on day one."""

from django.dispatch import receiver
from django_scopes import scopes_disabled

from collections_app.models import ChannelMode, DayKind, Ladder, LadderStep, StepKind
from messaging.models import Channel, Template
from tenants.models import Tenant
from tenants.signals import tenant_created

E, S, W = Channel.EMAIL, Channel.SMS, Channel.WHATSAPP

DEFAULT_STEPS = [
    # offset, kind, channels, mode, template key, task title
    (-5, StepKind.MESSAGE, [E], ChannelMode.FALLBACK, "pre_due_5", ""),
    (-1, StepKind.MESSAGE, [E], ChannelMode.FALLBACK, "pre_due_1", ""),
    (0, StepKind.MESSAGE, [W, S, E], ChannelMode.FALLBACK, "due_today", ""),
    (3, StepKind.MESSAGE, [E, W], ChannelMode.ALL, "overdue_3", ""),
    (7, StepKind.MESSAGE, [W, S], ChannelMode.ALL, "overdue_7", ""),
    (
        15,
        StepKind.TASK,
        [],
        ChannelMode.FALLBACK,
        "",
        "Ligar para o cliente: fatura 15 dias em atraso",
    ),
]

_SIGNATURE = "\n\nAtenciosamente,\nEquipe financeira — {{ company_name }}"
_IGNORE = "\n\nSe o pagamento já foi feito, por favor desconsidere esta mensagem."

# (key, channel, name, subject, body). SMS texts avoid accents so they stay in GSM-7. No
# text names a way to pay (Pix, boleto): the payment page offers those the invoice has, and no
# variable says whether it has a boleto. Stored templates of existing tenants are left as written.
DEFAULT_TEMPLATES = [
    (
        "pre_due_5",
        E,
        "Lembrete 5 dias antes do vencimento",
        "Sua fatura {{ invoice_number }} vence em {{ due_date }}",
        "Olá, {{ customer_name }}!\n\nPassando para lembrar que a fatura {{ invoice_number }}, "
        "no valor de {{ amount }}, vence em {{ due_date }}.\n\nAs formas de pagamento estão na "
        "página da fatura: {{ payment_link }}" + _IGNORE + _SIGNATURE,
    ),
    (
        "pre_due_1",
        E,
        "Lembrete na véspera do vencimento",
        "Amanhã vence a fatura {{ invoice_number }}",
        "Olá, {{ customer_name }}!\n\nA fatura {{ invoice_number }}, no valor de {{ amount }}, "
        "vence amanhã, {{ due_date }}.\n\nPara pagar agora, é só acessar: {{ payment_link }}"
        + _IGNORE
        + _SIGNATURE,
    ),
    (
        "due_today",
        W,
        "Vencimento hoje (WhatsApp)",
        "",
        "Olá, {{ customer_name }}! Aqui é da {{ company_name }}. A fatura {{ invoice_number }}, "
        "de {{ amount }}, vence hoje ({{ due_date }}). Para pagar, acesse "
        "{{ payment_link }}. Se já pagou, obrigado e desconsidere.",
    ),
    (
        "due_today",
        S,
        "Vencimento hoje (SMS)",
        "",
        "{{ company_name }}: a fatura {{ invoice_number }} de {{ amount }} vence hoje "
        "({{ due_date }}). Pague em {{ payment_link }}",
    ),
    (
        "due_today",
        E,
        "Vencimento hoje (e-mail)",
        "A fatura {{ invoice_number }} vence hoje",
        "Olá, {{ customer_name }}!\n\nHoje, {{ due_date }}, é o vencimento da fatura "
        "{{ invoice_number }}, no valor de {{ amount }}.\n\nAs formas de pagamento estão em: "
        "{{ payment_link }}" + _IGNORE + _SIGNATURE,
    ),
    (
        "overdue_3",
        E,
        "3 dias após o vencimento (e-mail)",
        "Fatura {{ invoice_number }} em aberto",
        "Olá, {{ customer_name }}.\n\nNão identificamos o pagamento da fatura "
        "{{ invoice_number }}, de {{ amount }}, que venceu em {{ due_date }}. Imaginamos que "
        "tenha sido um esquecimento.\n\nVocê pode regularizar por aqui: {{ payment_link }}\n\n"
        "Se precisar de mais prazo ou de outra forma de pagamento, responda esta mensagem — "
        "estamos à disposição para ajudar." + _SIGNATURE,
    ),
    (
        "overdue_3",
        W,
        "3 dias após o vencimento (WhatsApp)",
        "",
        "Olá, {{ customer_name }}. Não identificamos o pagamento da fatura {{ invoice_number }} "
        "({{ amount }}), vencida em {{ due_date }}. Para regularizar: {{ payment_link }}. "
        "Se precisar de ajuda, é só responder.",
    ),
    (
        "overdue_7",
        W,
        "7 dias após o vencimento (WhatsApp)",
        "",
        "Olá, {{ customer_name }}. A fatura {{ invoice_number }} ({{ amount }}) está em aberto "
        "desde {{ due_date }}. Podemos ajudar com prazo ou parcelamento: responda esta mensagem "
        "ou acesse {{ payment_link }}.",
    ),
    (
        "overdue_7",
        S,
        "7 dias após o vencimento (SMS)",
        "",
        "{{ company_name }}: a fatura {{ invoice_number }} de {{ amount }} esta em aberto desde "
        "{{ due_date }}. Regularize em {{ payment_link }}",
    ),
    (
        "thank_you",
        E,
        "Agradecimento pelo pagamento",
        "Recebemos seu pagamento — obrigado!",
        "Olá, {{ customer_name }}!\n\nConfirmamos o pagamento da fatura {{ invoice_number }}, "
        "no valor de {{ amount_paid }}. Muito obrigado pela confiança e pela parceria.\n\n"
        "Qualquer dúvida, estamos à disposição." + _SIGNATURE,
    ),
]


def defaults_install(*, tenant: Tenant) -> Ladder:
    """Create the default ladder and templates for a tenant (idempotent)."""
    return defaults_install_many(tenants=[tenant])[tenant.pk]


def defaults_install_many(*, tenants) -> dict[int, Ladder]:
    """The default ladder and templates for many tenants at once, in a few bulk inserts;
    tenants that already have them are left as they are. Returns each tenant's default ladder."""
    tenants = {t.pk: t for t in tenants}
    with scopes_disabled():
        have_templates = set(
            Template.objects.filter(tenant_id__in=tenants).values_list(
                "tenant_id", "key", "channel"
            )
        )
        Template.objects.bulk_create(
            Template(
                tenant_id=tenant_id,
                key=key,
                channel=channel,
                locale="pt-br",
                name=name,
                subject=subject,
                body=body,
            )
            for tenant_id in tenants
            for key, channel, name, subject, body in DEFAULT_TEMPLATES
            if (tenant_id, key, str(channel)) not in have_templates
        )
        ladders = {
            ladder.tenant_id: ladder
            for ladder in Ladder.objects.filter(tenant_id__in=tenants, is_default=True)
        }
        new = Ladder.objects.bulk_create(
            Ladder(
                tenant_id=tenant_id,
                name="Régua padrão",
                is_default=True,
                thank_you_template_key="thank_you",
            )
            for tenant_id in tenants
            if tenant_id not in ladders
        )
        LadderStep.objects.bulk_create(
            LadderStep(
                tenant_id=ladder.tenant_id,
                ladder=ladder,
                offset_days=offset,
                day_kind=DayKind.CALENDAR,
                kind=kind,
                channels=[str(c) for c in channels],
                channel_mode=mode,
                template_key=key,
                task_title=title,
            )
            for ladder in new
            for offset, kind, channels, mode, key, title in DEFAULT_STEPS
        )
    ladders.update({ladder.tenant_id: ladder for ladder in new})
    return ladders


@receiver(tenant_created)
def _install_defaults(sender, tenant: Tenant, **kwargs) -> None:
    defaults_install(tenant=tenant)
