from django.urls import path

from collections_app.web import (
    bank,
    customers,
    dashboard,
    exports,
    imports,
    invoices,
    replies,
    tasks,
)

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("invoices/", invoices.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/payment/", invoices.invoice_payment, name="invoice_payment"),
    path(
        "invoices/<int:pk>/message-preview/",
        invoices.invoice_message_preview,
        name="invoice_message_preview",
    ),
    path("invoices/<int:pk>/agreement/", invoices.invoice_agreement, name="invoice_agreement"),
    path("invoices/<int:pk>/<slug:action>/", invoices.invoice_action, name="invoice_action"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/export.json", customers.customer_export_view, name="customer_export"),
    path("customers/<int:pk>/erase/", customers.customer_erase_view, name="customer_erase"),
    path("customers/<int:pk>/<slug:action>/", customers.customer_action, name="customer_action"),
    path("exports/invoices.csv", exports.export_invoices, name="export_invoices"),
    path("exports/interactions.csv", exports.export_interactions, name="export_interactions"),
    path("tasks/", tasks.task_list, name="task_list"),
    path("tasks/<int:pk>/done/", tasks.task_done, name="task_done"),
    path("replies/", replies.reply_list, name="reply_list"),
    path("imports/", imports.imports, name="imports"),
    path("imports/template.csv", imports.import_template, name="import_template"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/preview/", imports.import_preview, name="import_preview"),
    path("imports/<int:pk>/status/", imports.import_status, name="import_status"),
    path("imports/<int:pk>/errors.csv", imports.import_errors, name="import_errors"),
    path("bank/", bank.bank, name="bank"),
    path("bank/credits/<int:pk>/", bank.bank_credit_resolve, name="bank_credit"),
    path("claims/<int:pk>/proof/", invoices.payment_claim_proof, name="payment_claim_proof"),
]
