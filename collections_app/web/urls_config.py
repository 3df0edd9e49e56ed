"""The admin's configuration pages, included under "settings/"."""

from django.urls import path

from collections_app.web import ladder_steps, ladders, segments

urlpatterns = [
    path("ladders/", ladders.ladder_list, name="config_ladders"),
    path("ladders/new/", ladders.ladder_new, name="config_ladder_new"),
    path("ladders/<int:pk>/", ladders.ladder_detail, name="config_ladder"),
    path("ladders/<int:pk>/steps/new/", ladder_steps.step_new, name="config_step_new"),
    path("ladders/<int:pk>/steps/<int:step_pk>/", ladder_steps.step_detail, name="config_step"),
    path(
        "ladders/<int:pk>/steps/<int:step_pk>/edit/",
        ladder_steps.step_edit,
        name="config_step_edit",
    ),
    path("ladders/<int:pk>/preview/", ladders.ladder_preview, name="config_ladder_preview"),
    path("segments/", segments.segment_list, name="config_segments"),
    path("segments/new/", segments.segment_new, name="config_segment_new"),
    path("segments/count/", segments.segment_count, name="config_segment_count"),
    path("segments/<int:pk>/", segments.segment_detail, name="config_segment"),
]
