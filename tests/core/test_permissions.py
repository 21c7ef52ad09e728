"""The permission backend: Django's ModelBackend's answers, in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission, User
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from crmhub.core.permissions import PermissionBackend

pytestmark = pytest.mark.django_db


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # no permission cached on it


def test_it_grants_what_django_grants_own_and_through_groups(viewer, operator, admin_user):
    own = Permission.objects.get(codename="view_syncrun")
    operator.user_permissions.add(own)
    superuser = User.objects.create_superuser("root", password="pw-root-1")
    inactive = User.objects.create_user("gone", password="pw-gone-1", is_active=False)
    inactive.groups.set(operator.groups.all())
    for user in (viewer, operator, admin_user, superuser, inactive):
        ours = PermissionBackend().get_all_permissions(_fresh(user))
        assert ours == ModelBackend().get_all_permissions(_fresh(user)), user.username
    assert "contacts.view_syncrun" in PermissionBackend().get_all_permissions(_fresh(operator))
    assert PermissionBackend().get_all_permissions(_fresh(inactive)) == set()


def test_a_request_reads_the_permissions_in_one_query(operator):
    user = _fresh(operator)
    with CaptureQueriesContext(db) as captured:
        assert user.has_perm("actions.run_action")
        assert user.has_perm("contacts.view_contact")
        assert not user.has_perm("connections.manage_connection")
    assert len(captured) == 1
