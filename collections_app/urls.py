from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/payment/", views.invoice_payment, name="invoice_payment"),
    path("invoices/<int:pk>/agreement/", views.invoice_agreement, name="invoice_agreement"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("claims/<int:pk>/proof/", views.payment_claim_proof, name="payment_claim_proof"),
]
