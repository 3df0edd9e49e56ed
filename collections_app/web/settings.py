"""The company's settings pages: sending (window, days, holidays), collection rules (fees,
discount, promises, instalments, agreements), Pix and branding; outbound webhooks. Everyone
reads the company settings; admins change them. The team and the API keys are tenants'
pages (`tenants.views`)."""

from datetime import timedelta
from zoneinfo import available_timezones

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from collections_app.calendar import BusinessCalendar
from collections_app.invoices.calendar_settings import (
    company_settings_save,
    tenant_holiday_add,
    tenant_holiday_remove,
)
from collections_app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from collections_app.web.form_errors import errors_described
from collections_app.webhooks_out.endpoints import (
    EndpointError,
    webhook_endpoint_delete,
    webhook_endpoint_save,
)
from collections_app.webhooks_out.events import (
    WebhookError,
    webhook_redeliver,
    webhook_secret_rotate,
)
from tenants.decorators import tenant_required
from tenants.models import WEEKDAYS, Tenant, TenantHoliday
from tenants.selectors import tenant_today

WEEKDAY_LABELS = [
    ("mon", gettext_lazy("Mon")),
    ("tue", gettext_lazy("Tue")),
    ("wed", gettext_lazy("Wed")),
    ("thu", gettext_lazy("Thu")),
    ("fri", gettext_lazy("Fri")),
    ("sat", gettext_lazy("Sat")),
    ("sun", gettext_lazy("Sun")),
]
# Brazil's IANA time zones first, with the names people know them by; then every other zone.
BRAZIL_TIMEZONES = [
    ("America/Sao_Paulo", gettext_lazy("Brasília time (São Paulo, Rio, Minas, South, DF)")),
    ("America/Manaus", gettext_lazy("Amazonas (Manaus)")),
    ("America/Belem", gettext_lazy("Pará and Amapá (Belém)")),
    ("America/Fortaleza", gettext_lazy("Ceará, Maranhão, Piauí, Rio Grande do Norte, Paraíba")),
    ("America/Recife", gettext_lazy("Pernambuco (Recife)")),
    ("America/Cuiaba", gettext_lazy("Mato Grosso (Cuiabá)")),
    ("America/Porto_Velho", gettext_lazy("Rondônia (Porto Velho)")),
    ("America/Rio_Branco", gettext_lazy("Acre (Rio Branco)")),
    ("America/Noronha", gettext_lazy("Fernando de Noronha")),
    ("America/Boa_Vista", gettext_lazy("Roraima (Boa Vista)")),
    ("America/Campo_Grande", gettext_lazy("Mato Grosso do Sul (Campo Grande)")),
    ("America/Araguaina", gettext_lazy("Tocantins (Araguaína)")),
    ("America/Bahia", gettext_lazy("Bahia (Salvador)")),
    ("America/Maceio", gettext_lazy("Alagoas and Sergipe (Maceió)")),
    ("America/Santarem", gettext_lazy("West of Pará (Santarém)")),
]


def timezone_choices() -> list:
    brazil = {name for name, _label in BRAZIL_TIMEZONES}
    others = sorted(name for name in available_timezones() if name not in brazil and "/" in name)
    return [
        (gettext_lazy("Brazil"), BRAZIL_TIMEZONES),
        (gettext_lazy("Other time zones"), [(name, name.replace("_", " ")) for name in others]),
    ]


UFS = "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()


# The company page's sections, in order; the form's model fields follow from them.
SECTIONS = [
    (
        gettext_lazy("Sending"),
        (
            "name",
            "timezone",
            "state",
            "send_window_start",
            "send_window_end",
            "send_days_list",
            "run_time",
            "one_message_per_customer",
        ),
    ),
    (
        gettext_lazy("Collection rules"),
        (
            "late_fine_percent",
            "monthly_interest_percent",
            "early_discount_percent",
            "early_discount_days",
            "promise_max_days",
            "paid_claim_pause_days",
            "instalments_max",
            "instalment_min_amount",
            "agreement_grace_days",
            "escalation_amount",
        ),
    ),
    (
        gettext_lazy("Pix and branding"),
        ("pix_key", "merchant_name", "merchant_city", "brand_color", "logo_url"),
    ),
]
FORM_ONLY = {"send_days_list"}  # not a model field: saved into `send_days`


class CompanySettingsForm(forms.ModelForm):
    logo_url = forms.URLField(
        label=gettext_lazy("Logo URL"), required=False, assume_scheme="https", max_length=200
    )
    send_days_list = forms.MultipleChoiceField(
        label=gettext_lazy("Send days"),
        choices=WEEKDAY_LABELS,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Tenant
        fields = [name for _label, names in SECTIONS for name in names if name not in FORM_ONLY]
        labels = {
            "name": gettext_lazy("Company name"),
            "timezone": gettext_lazy("Time zone"),
            "state": gettext_lazy("State (UF), for its holidays"),
            "send_window_start": gettext_lazy("Send from"),
            "send_window_end": gettext_lazy("Send until"),
            "run_time": gettext_lazy("Daily evaluation at"),
            "one_message_per_customer": gettext_lazy(
                "One message per customer for invoices due the same day"
            ),
            "late_fine_percent": gettext_lazy("Late fine (%)"),
            "monthly_interest_percent": gettext_lazy("Default interest (% a month)"),
            "early_discount_percent": gettext_lazy("Early-payment discount (%)"),
            "early_discount_days": gettext_lazy(
                "Discount if paid this many days before the due date"
            ),
            "promise_max_days": gettext_lazy("Promises to pay: at most this many days away"),
            "paid_claim_pause_days": gettext_lazy('"I already paid": pause reminders for (days)'),
            "instalments_max": gettext_lazy("Self-service instalments: at most (0 = none)"),
            "instalment_min_amount": gettext_lazy("Smallest instalment (R$)"),
            "agreement_grace_days": gettext_lazy(
                "Days an instalment may be late before the agreement breaks"
            ),
            "escalation_amount": gettext_lazy("Hand customers owing at least (R$) to a person"),
            "pix_key": gettext_lazy("Pix key"),
            "merchant_name": gettext_lazy("Name on the Pix code"),
            "merchant_city": gettext_lazy("City on the Pix code"),
            "brand_color": gettext_lazy("Brand colour"),
            "logo_url": gettext_lazy("Logo URL"),
        }
        widgets = {
            "send_window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "send_window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "run_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "brand_color": forms.TextInput(attrs={"type": "color"}),
            "state": forms.Select(choices=[("", "—"), *((uf, uf) for uf in UFS)]),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = timezone_choices()
        current = self.instance.timezone
        known = {name for _group, options in choices for name, _label in options}
        if current and current not in known:  # e.g. "UTC": kept selectable, not lost on save
            choices.append((current, current))
        self.fields["timezone"].widget = forms.Select(choices=choices)
        self.fields["send_days_list"].initial = self.instance.send_days.split(",")

    def clean_timezone(self):
        value = self.cleaned_data["timezone"]
        if value not in available_timezones():
            raise forms.ValidationError(_("Unknown time zone."))
        return value

    def clean_brand_color(self):
        value = self.cleaned_data["brand_color"]
        if not (len(value) == 7 and value.startswith("#")):
            raise forms.ValidationError(_("Use a colour like #0f766e."))
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("send_window_start"), data.get("send_window_end")
        if start and end and start >= end:
            self.add_error("send_window_end", _("The window must end after it starts."))
        for name in ("late_fine_percent", "monthly_interest_percent", "early_discount_percent"):
            value = data.get(name)
            if value is not None and not 0 <= value <= 100:
                self.add_error(name, _("Between 0 and 100."))
        return data

    def fields_to_save(self) -> dict:
        """The tenant's fields as the validated form set them on its instance (the model's
        clean() normalises some, e.g. the Pix key), the week days joined as stored."""
        fields = {name: getattr(self.instance, name) for name in self.Meta.fields}
        fields["send_days"] = ",".join(
            d for d in WEEKDAYS if d in self.cleaned_data["send_days_list"]
        )
        return fields


class HolidayForm(forms.ModelForm):
    """A date of the company's own (its prefix keeps its fields' ids apart from the settings
    form's on the same page)."""

    date = forms.DateField(
        label=gettext_lazy("Date"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": gettext_lazy("Choose the holiday's date."),
            "invalid": gettext_lazy("Enter the date as dd/mm/yyyy."),
        },
    )

    class Meta:
        model = TenantHoliday
        fields = ["date", "name"]
        labels = {"name": gettext_lazy("Name")}
        error_messages = {"name": {"required": gettext_lazy("Give the holiday a name.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="holiday_%s", **kwargs)


def calendar_holidays(tenant: Tenant, *, days: int = 365) -> list[tuple]:
    """The national, bank and state holidays the tenant's business calendar already keeps in
    the next `days` days (not the tenant's own dates), as (date, name), in order."""
    today = tenant_today(tenant=tenant)
    end = today + timedelta(days=days)
    calendar = BusinessCalendar.for_tenant(tenant)
    return [
        (day, name)
        for day, name in calendar.holidays_named(today, end)
        if day not in calendar.extra
    ]


@tenant_required()
def settings_index(request):
    return render(request, "collections/settings/index.html")


@require_http_methods(["GET", "POST"])
@tenant_required()
def company_settings(request):
    tenant = request.tenant
    form = CompanySettingsForm(instance=tenant)
    if request.method == "POST":
        if not request.membership.has_role("admin"):
            raise PermissionDenied
        form = CompanySettingsForm(request.POST, instance=tenant)
        if form.is_valid():
            company_settings_save(tenant=tenant, fields=form.fields_to_save())
            messages.success(request, _("Settings saved."))
            return redirect("settings_company")
    return company_page(request, form=form)


def company_page(request, *, form=None, holiday_form=None, status: int = 200):
    """The company settings page; a form that did not go through has its errors beside its
    fields (the holiday form's answered 400)."""
    tenant = request.tenant
    return render(
        request,
        "collections/settings/company.html",
        {
            "form": errors_described(form or CompanySettingsForm(instance=tenant)),
            "sections": SECTIONS,
            "holiday_form": errors_described(holiday_form or HolidayForm()),
            "holidays": TenantHoliday.objects.order_by("date"),
            "calendar_holidays": calendar_holidays(tenant),
            "can_edit": request.membership.has_role("admin"),
        },
        status=status,
    )


@require_POST
@tenant_required("admin")
def holiday_add(request):
    form = HolidayForm(request.POST)
    if form.is_valid():
        created = tenant_holiday_add(
            tenant=request.tenant, day=form.cleaned_data["date"], name=form.cleaned_data["name"]
        )
        if created:
            messages.success(request, _("Holiday added."))
            return redirect("settings_company")
        form.add_error("date", _("That date is already a holiday."))
    return company_page(request, holiday_form=form, status=400)


@require_POST
@tenant_required("admin")
def holiday_delete(request, pk: int):
    tenant_holiday_remove(tenant=request.tenant, holiday=get_object_or_404(TenantHoliday, pk=pk))
    messages.success(request, _("Holiday removed."))
    return redirect("settings_company")


# --- Outbound webhooks -------------------------------------------------------------------------


# What each event tells the company's system, for the finance user choosing them.
EVENT_DESCRIPTIONS = {
    WebhookEvent.INVOICE_OVERDUE: gettext_lazy("An invoice passed its due date unpaid."),
    WebhookEvent.MESSAGE_DELIVERED: gettext_lazy("A reminder reached the customer."),
    WebhookEvent.MESSAGE_FAILED: gettext_lazy("A reminder could not be delivered."),
    WebhookEvent.PAYMENT_RECEIVED: gettext_lazy("A payment was recorded on an invoice."),
    WebhookEvent.PROMISE_CREATED: gettext_lazy("A customer promised to pay on a date."),
    WebhookEvent.TASK_CREATED: gettext_lazy("A follow-up task was created for your team."),
}


def _event_label(event: str) -> str:
    if event == "ping":
        return _("Test")
    try:
        return str(WebhookEvent(event).label)
    except ValueError:
        return event


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=200, required=False)


@require_http_methods(["GET", "POST"])
@tenant_required("admin")
def webhooks(request):
    """The tenant's webhook endpoints and the last deliveries, with their outcome."""
    form = WebhookEndpointForm()
    created = None
    if request.method == "POST":
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                created = webhook_endpoint_save(tenant=request.tenant, **form.cleaned_data)
            except EndpointError as exc:
                for field, message in exc.errors.items():
                    form.add_error(field, message)
            else:
                form = WebhookEndpointForm()
    deliveries = list(WebhookDelivery.objects.select_related("endpoint").order_by("-id")[:100])
    for delivery in deliveries:
        delivery.event_label = _event_label(delivery.event)
    endpoints = list(WebhookEndpoint.objects.order_by("id"))
    for endpoint in endpoints:
        endpoint.event_labels = [_event_label(event) for event in endpoint.events]
    return render(
        request,
        "collections/settings/webhooks.html",
        {
            "form": errors_described(form),
            "created": created,
            "endpoints": endpoints,
            "deliveries": deliveries,
            "event_choices": [
                (box, EVENT_DESCRIPTIONS.get(box.data["value"], "")) for box in form["events"]
            ],
        },
    )


@require_POST
@tenant_required("admin")
def webhook_change(request, pk: int):
    """Pause, resume, rotate the secret of, or remove an endpoint (`do` in the form)."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    action = request.POST.get("do", "")
    if action == "toggle":
        webhook_endpoint_save(tenant=request.tenant, endpoint=endpoint, active=not endpoint.active)
    elif action == "rotate":
        secret = webhook_secret_rotate(endpoint=endpoint)
        messages.success(request, _("New secret: %(secret)s") % {"secret": secret})
    elif action == "delete":
        webhook_endpoint_delete(tenant=request.tenant, endpoint=endpoint)
    return redirect("settings_webhooks")


@require_POST
@tenant_required("admin")
def webhook_redeliver_view(request, pk: int):
    try:
        webhook_redeliver(delivery=get_object_or_404(WebhookDelivery, pk=pk))
    except WebhookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Sent again."))
    return redirect("settings_webhooks")
