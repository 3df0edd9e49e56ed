from django.urls import path

from collections_app.web import imports as views_import
from collections_app.web import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/payment/", views.invoice_payment, name="invoice_payment"),
    path(
        "invoices/<int:pk>/message-preview/",
        views.invoice_message_preview,
        name="invoice_message_preview",
    ),
    path("invoices/<int:pk>/agreement/", views.invoice_agreement, name="invoice_agreement"),
    path("invoices/<int:pk>/<slug:action>/", views.invoice_action, name="invoice_action"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/export.json", views.customer_export_view, name="customer_export"),
    path("customers/<int:pk>/erase/", views.customer_erase_view, name="customer_erase"),
    path("customers/<int:pk>/<slug:action>/", views.customer_action, name="customer_action"),
    path("exports/invoices.csv", views.export_invoices, name="export_invoices"),
    path("exports/interactions.csv", views.export_interactions, name="export_interactions"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("replies/", views.reply_list, name="reply_list"),
    path("imports/", views_import.imports, name="imports"),
    path("imports/template.csv", views_import.import_template, name="import_template"),
    path("imports/<int:pk>/", views_import.import_detail, name="import_detail"),
    path("imports/<int:pk>/preview/", views_import.import_preview, name="import_preview"),
    path("imports/<int:pk>/status/", views_import.import_status, name="import_status"),
    path("imports/<int:pk>/errors.csv", views_import.import_errors, name="import_errors"),
    path("bank/", views.bank, name="bank"),
    path("bank/credits/<int:pk>/", views.bank_credit_resolve, name="bank_credit"),
    path("claims/<int:pk>/proof/", views.payment_claim_proof, name="payment_claim_proof"),
]
