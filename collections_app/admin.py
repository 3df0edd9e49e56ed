from django import forms
from django.contrib import admin

from collections_app.documents import MAX_TYPED, document_normalize
from collections_app.models import (
    Agreement,
    Customer,
    Dispatch,
    FollowUpTask,
    Interaction,
    Invoice,
    Ladder,
    LadderStep,
    Payment,
    Segment,
)


class DocumentFormField(forms.CharField):
    """A CPF or CNPJ typed as people write it (a formatted CNPJ has 18 characters), kept
    bare."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return ""
        try:
            return document_normalize(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "external_id", "email", "phone", "segment"]
    list_filter = ["tenant"]
    search_fields = ["name", "external_id", "email", "document"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "document":
            return DocumentFormField(
                label=db_field.verbose_name, required=False, max_length=MAX_TYPED
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        try:
            # A formatted CPF/CNPJ finds the bare one stored.
            search_term = document_normalize(search_term)
        except ValueError:
            pass
        return super().get_search_results(request, queryset, search_term)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "tenant", "customer", "amount", "amount_paid", "due_date", "status"]
    list_filter = ["tenant", "status", "disputed"]
    search_fields = ["number", "external_id", "customer__name"]
    raw_id_fields = ["customer", "agreement"]
    date_hierarchy = "due_date"


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["invoice", "tenant", "amount", "paid_at", "source", "external_id"]
    list_filter = ["tenant", "source"]
    raw_id_fields = ["invoice"]


class LadderStepInline(admin.TabularInline):
    model = LadderStep
    extra = 0
    exclude = ["tenant"]


@admin.register(Ladder)
class LadderAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "is_default"]
    list_filter = ["tenant"]
    inlines = [LadderStepInline]

    def save_formset(self, request, form, formset, change):
        for obj in formset.save(commit=False):
            obj.tenant = form.instance.tenant
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "priority", "ladder"]
    list_filter = ["tenant"]


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ["invoice", "step", "tenant", "scheduled_for", "status", "reason"]
    list_filter = ["tenant", "status"]
    raw_id_fields = ["invoice"]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "tenant", "customer", "kind", "summary"]
    list_filter = ["tenant", "kind"]
    raw_id_fields = ["customer", "invoice", "message"]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(admin.ModelAdmin):
    list_display = ["title", "tenant", "customer", "status", "assignee", "due_on"]
    list_filter = ["tenant", "status"]
    raw_id_fields = ["customer", "invoice", "dispatch"]


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["pk", "tenant", "customer", "status", "total_amount", "instalment_count"]
    list_filter = ["tenant", "status"]
    raw_id_fields = ["customer", "original_invoices"]
