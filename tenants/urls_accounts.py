"""A person's own account, under "accounts/": invitation, password change and reset."""

from django.urls import path

from tenants import accounts

urlpatterns = [
    path(
        "invite/<slug:tenant>/<uidb64>/<token>/",
        accounts.InviteAcceptView.as_view(),
        name="invite_accept",
    ),
    path("password/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/changed/",
        accounts.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        accounts.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        accounts.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
