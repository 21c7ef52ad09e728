"""The simulated AllClients API under ``/sandbox/allclients/api/2/``."""

from __future__ import annotations

from django.urls import path

from crmhub.sandbox.allclients import views

BASE_PATH = "api/2/"

urlpatterns = [
    path(f"{BASE_PATH}GetContacts.aspx", views.get_contacts, name="allclients-getcontacts"),
    path(f"{BASE_PATH}GetCategories.aspx", views.get_categories, name="allclients-getcategories"),
    path(f"{BASE_PATH}RunActionSet.aspx", views.run_action_set, name="allclients-runactionset"),
    path(
        f"{BASE_PATH}AddContactLink.aspx", views.add_contact_link, name="allclients-addcontactlink"
    ),
    # Assumption: not in the documents given; lists the links AddContactLink created.
    path(
        f"{BASE_PATH}GetContactLinks.aspx",
        views.get_contact_links,
        name="allclients-getcontactlinks",
    ),
]
