"""The admin's configuration pages, included under "settings/"."""

from django.urls import path

from collections_app.web import config as views

urlpatterns = [
    path("ladders/", views.ladder_list, name="config_ladders"),
    path("ladders/new/", views.ladder_new, name="config_ladder_new"),
    path("ladders/<int:pk>/", views.ladder_detail, name="config_ladder"),
    path("ladders/<int:pk>/steps/new/", views.step_new, name="config_step_new"),
    path("ladders/<int:pk>/steps/<int:step_pk>/", views.step_detail, name="config_step"),
    path("ladders/<int:pk>/steps/<int:step_pk>/edit/", views.step_edit, name="config_step_edit"),
    path("ladders/<int:pk>/preview/", views.ladder_preview, name="config_ladder_preview"),
    path("segments/", views.segment_list, name="config_segments"),
    path("segments/new/", views.segment_new, name="config_segment_new"),
    path("segments/count/", views.segment_count, name="config_segment_count"),
    path("segments/<int:pk>/", views.segment_detail, name="config_segment"),
]
