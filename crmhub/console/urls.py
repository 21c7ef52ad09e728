from __future__ import annotations

from django.urls import path

from crmhub.console.views import (
    actions,
    acts,
    bulk,
    connections,
    contacts,
    dashboard,
    matching,
    profile,
)

app_name = "console"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # find
    path("contacts/", contacts.contact_list, name="contact-list"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact-detail"),
    path("people/<int:pk>/", contacts.person_detail, name="person-detail"),
    # correct who is the same person
    path("contacts/<int:pk>/split/", matching.contact_split, name="contact-split"),
    path("contacts/<int:pk>/join/", matching.contact_join, name="contact-join"),
    path("corrections/<int:pk>/undo/", matching.correction_undo, name="correction-undo"),
    # act
    path("contacts/<int:pk>/act/<slug:operation>/", acts.contact_act, name="contact-act"),
    path("contacts/<int:pk>/reads/<slug:operation>/", acts.contact_read, name="contact-read"),
    path("connections/<int:pk>/act/<slug:operation>/", acts.connection_act, name="connection-act"),
    path(
        "connections/<int:pk>/reads/<slug:operation>/",
        acts.connection_read,
        name="connection-read",
    ),
    path("bulk/", bulk.bulk, name="bulk"),
    path("bulk/<int:pk>/", bulk.batch_detail, name="batch-detail"),
    path("bulk/<int:pk>/failures.csv", bulk.batch_failures_csv, name="batch-failures"),
    path("bulk/<int:pk>/cancel/", bulk.batch_cancel, name="batch-cancel"),
    path("bulk/<int:pk>/retry/", bulk.batch_retry, name="batch-retry"),
    # see what happened
    path("actions/", actions.action_list, name="action-list"),
    path("actions/<int:pk>/", actions.action_detail, name="action-detail"),
    path("actions/<int:pk>/resend/", actions.action_resend, name="action-resend"),
    path("actions/<int:pk>/cancel/", actions.action_cancel, name="action-cancel"),
    path("actions/<int:pk>/answer/", actions.action_answer, name="action-answer"),
    path("actions/<int:pk>/checked/", actions.action_checked, name="action-checked"),
    path("actions/<int:pk>/check/", actions.action_check, name="action-check"),
    # connections
    path("connections/", connections.connection_list, name="connection-list"),
    path("connections/<int:pk>/", connections.connection_detail, name="connection-detail"),
    path("connections/<int:pk>/sync/", connections.connection_sync, name="connection-sync"),
    path("connections/<int:pk>/check/", connections.connection_check, name="connection-check"),
    path("connections/<int:pk>/queue/", connections.queue, name="queue"),
    path("queue/", connections.queue_index, name="queue-index"),
    # the signed-in user's own settings
    path("profile/", profile.profile, name="profile"),
]
