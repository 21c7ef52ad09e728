"""Every console URL needs a signed-in user; roles get exactly their permissions."""

from __future__ import annotations

import pytest

from crmhub.core import roles
from tests.urlwalk import console_urls

pytestmark = pytest.mark.django_db


def test_the_console_has_urls_to_check():
    assert "/" in console_urls()


@pytest.mark.parametrize("url", console_urls())
def test_every_console_url_redirects_anonymous_users_to_login(client, url):
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in (302, 403), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/login/"), (url, response["Location"])


def test_roles_grant_exactly_their_permissions(viewer, operator, admin_user):
    assert roles.can_view(viewer) and not roles.can_act(viewer)
    assert roles.can_act(operator) and not roles.can_manage_connections(operator)
    assert roles.can_manage_connections(admin_user) and roles.can_act(admin_user)
    assert not viewer.has_perm("connections.change_connection")
    assert not operator.has_perm("connections.change_connection")
    assert roles.can_correct(operator) and roles.can_correct(admin_user)
    assert not roles.can_correct(viewer)


def test_login_locks_out_after_repeated_failures(client, viewer):
    for _ in range(5):
        client.post("/login/", {"username": "viewer", "password": "wrong"})
    response = client.post("/login/", {"username": "viewer", "password": "pw-viewer"})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_spoofed_forwarded_for_header_does_not_reset_the_lockout(client, viewer):
    for number in range(5):
        client.post(
            "/login/",
            {"username": "viewer", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}",
        )
    response = client.post(
        "/login/",
        {"username": "viewer", "password": "pw-viewer"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 429
