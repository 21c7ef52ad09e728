"""The simulated CRM.COM Web API, under ``crmapi/rest/v2/``."""

from __future__ import annotations

from django.urls import path

from crmhub.sandbox.crmcom import authentication, communications, contacts, queue

BASE_PATH = "crmapi/rest/v2/"

_VIEWS = {
    "authentication/token": authentication.token_create,
    "authentication/token/release": authentication.token_release,
    "contact_information/show": contacts.contact_show,
    "contact_information/list": contacts.contact_list,
    "communications/show": communications.communication_show,
    "communications/list": communications.communication_list,
    "communications/create": communications.communication_create,
    "communications/update": communications.communication_update,
    "communications/complete": communications.communication_complete,
    "communications/set_as_viewed": communications.communication_set_as_viewed,
    "communications/queue/show": queue.queue_show,
    "communications/queue/list": queue.queue_list,
    "communications/queue/get_latest": queue.queue_get_latest,
    "communications/queue/get_pending_completed": queue.queue_get_pending_completed,
    "communications/queue/process": queue.queue_process,
    "communications/queue/reject": queue.queue_reject,
    "communications/queue/remove": queue.queue_remove,
}

urlpatterns = [
    path(f"{BASE_PATH}{route}", view, name=f"crmcom-{route.replace('/', '-')}")
    for route, view in _VIEWS.items()
]
