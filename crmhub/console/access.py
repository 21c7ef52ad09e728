"""Who may open which console page: sign-in first, then the role's permission.

``login_required`` wraps everything so an anonymous visitor is sent to the login page
(whatever the method); a signed-in user without the permission gets 403, never a redirect
loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required

VIEW_PERMISSION = "contacts.view_contact"
ACT_PERMISSION = "actions.run_action"
MANAGE_PERMISSION = "connections.manage_connection"
CORRECT_PERMISSION = "contacts.correct_person"

View = Callable[..., Any]


def _guard(permission: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate


#: Browse the index, actions and connections (every role).
viewer_required = _guard(VIEW_PERMISSION)
#: Ask for a remote side effect (operators and admins).
operator_required = _guard(ACT_PERMISSION)
#: Split and join people, undo such corrections (operators and admins).
corrector_required = _guard(CORRECT_PERMISSION)
#: Sync now, test connection (admins).
admin_required = _guard(MANAGE_PERMISSION)
