"""The three staff roles and what each may do.

* viewer   — browse the contact index, actions and connections;
* operator — a viewer who may also act (``actions.run_action``) and correct person
  matching (``contacts.correct_person``: split, join, undo);
* admin    — an operator who manages connections and their credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [
        "contacts.view_contact",
        "contacts.view_person",
        "contacts.view_syncrun",
        "actions.view_action",
        "actions.view_batch",
        "connections.view_connection",
    ],
    OPERATOR: [
        "contacts.view_contact",
        "contacts.view_person",
        "contacts.view_syncrun",
        "actions.view_action",
        "actions.view_batch",
        "actions.run_action",
        "contacts.correct_person",
        "connections.view_connection",
    ],
    ADMIN: [
        "contacts.view_contact",
        "contacts.view_person",
        "contacts.view_syncrun",
        "actions.view_action",
        "actions.view_batch",
        "actions.run_action",
        "contacts.correct_person",
        "connections.view_connection",
        "connections.add_connection",
        "connections.change_connection",
        "connections.delete_connection",
        "connections.manage_connection",
    ],
}


def can_view(user: AbstractUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm("contacts.view_contact"))


def can_act(user: AbstractUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm("actions.run_action"))


def can_correct(user: AbstractUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm("contacts.correct_person"))


def can_manage_connections(user: AbstractUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm("connections.manage_connection"))
