"""The company's settings pages: sending (window, days, holidays), collection rules (fees,
discount, promises, instalments, agreements), Pix and branding; outbound webhooks. Everyone
reads the company settings; admins change them. The team and the API keys are tenants'
pages (`tenants.views`)."""

from zoneinfo import available_timezones

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from collections_app.invoices.calendar_settings import (
    company_settings_save,
    tenant_holiday_add,
    tenant_holiday_remove,
)
from collections_app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
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

WEEKDAY_LABELS = [
    ("mon", gettext_lazy("Mon")),
    ("tue", gettext_lazy("Tue")),
    ("wed", gettext_lazy("Wed")),
    ("thu", gettext_lazy("Thu")),
    ("fri", gettext_lazy("Fri")),
    ("sat", gettext_lazy("Sat")),
    ("sun", gettext_lazy("Sun")),
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
    class Meta:
        model = TenantHoliday
        fields = ["date", "name"]
        labels = {"date": gettext_lazy("Date"), "name": gettext_lazy("Name")}
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}


@tenant_required()
def settings_index(request):
    return render(request, "collections/settings/index.html")


@require_http_methods(["GET", "POST"])
@tenant_required()
def company_settings(request):
    tenant = request.tenant
    form = CompanySettingsForm(instance=tenant)
    holiday_form = HolidayForm()
    if request.method == "POST":
        if not request.membership.has_role("admin"):
            raise PermissionDenied
        form = CompanySettingsForm(request.POST, instance=tenant)
        if form.is_valid():
            company_settings_save(tenant=tenant, fields=form.fields_to_save())
            messages.success(request, _("Settings saved."))
            return redirect("settings_company")
    return render(
        request,
        "collections/settings/company.html",
        {
            "form": form,
            "sections": SECTIONS,
            "holiday_form": holiday_form,
            "holidays": TenantHoliday.objects.order_by("date"),
            "can_edit": request.membership.has_role("admin"),
        },
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
        else:
            messages.error(request, _("That date is already a holiday."))
    else:
        messages.error(request, _("Give the holiday a date and a name."))
    return redirect("settings_company")


@require_POST
@tenant_required("admin")
def holiday_delete(request, pk: int):
    tenant_holiday_remove(tenant=request.tenant, holiday=get_object_or_404(TenantHoliday, pk=pk))
    messages.success(request, _("Holiday removed."))
    return redirect("settings_company")


# --- Outbound webhooks -------------------------------------------------------------------------


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
    deliveries = WebhookDelivery.objects.select_related("endpoint").order_by("-id")[:100]
    return render(
        request,
        "collections/settings/webhooks.html",
        {
            "form": form,
            "created": created,
            "endpoints": WebhookEndpoint.objects.order_by("id"),
            "deliveries": deliveries,
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
