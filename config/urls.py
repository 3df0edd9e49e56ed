from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from collections_app.payments import page as payment_page
from collections_app.payments import webhook as payment_webhook
from messaging import unsubscribe
from messaging.web import metrics as message_metrics
from tenants import views as tenant_views

handler404 = "collections_app.api.errors.not_found"


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; send them to the static icon."""
    return redirect(static("favicon.ico"))


urlpatterns = [
    path("healthz", tenant_views.healthz, name="healthz"),
    path("metrics", message_metrics.metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", tenant_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", tenant_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("tenants.urls_accounts")),
    path("tenants/choose/", tenant_views.tenant_choose, name="tenant_choose"),
    path("api/schema/", SpectacularAPIView.as_view(authentication_classes=[]), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema",
            authentication_classes=[],
            template_name="drf_spectacular/swagger_ui_own_styles.html",
        ),
        name="api_docs",
    ),
    path("api/v1/", include("collections_app.api.urls")),
    path("p/<str:token>", payment_page.payment_page, name="payment_page"),
    path("p/<str:token>/paid", payment_page.claim_paid, name="payment_claim"),
    path("p/<str:token>/promise", payment_page.promise, name="payment_promise"),
    path("p/<str:token>/instalments", payment_page.instalments, name="payment_instalments"),
    path("p/<str:token>/opt-out", payment_page.opt_out, name="payment_opt_out"),
    path("p/<str:token>/identify", payment_page.identify, name="payment_identify"),
    path(
        "webhooks/payments/<slug:tenant>/", payment_webhook.payment_webhook, name="webhook_payments"
    ),
    path("webhooks/", include("messaging.urls")),
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("settings/", include("tenants.urls_settings")),
    path("settings/", include("collections_app.web.urls_settings")),
    path("settings/", include("messaging.urls_config")),
    path("settings/", include("collections_app.web.urls_config")),
    path("", include("collections_app.web.urls")),
]
