"""CSRF on every URL that takes a POST, and no GET that changes anything (S12)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.dump import database_dump
from tests.urlwalk import console_urls

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def csrf_client(superuser) -> Client:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


@pytest.mark.parametrize("url", console_urls())
def test_a_post_without_token_is_refused(csrf_client, url):
    response = csrf_client.post(url, {"anything": "1"})
    assert response.status_code == 403, (url, response.status_code)


@pytest.mark.parametrize("url", console_urls())
def test_a_post_with_the_htmx_token_header_passes_the_csrf_check(csrf_client, url):
    csrf_client.get("/")  # the page renders the token into hx-headers and sets the cookie
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(url, {}, HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true")
    assert response.status_code != 403 or b"Session expired" not in response.content, url
    assert b"security token was missing" not in response.content, url


VOLATILE = ("django_session", "axes_")


def test_no_get_creates_or_changes_anything(superuser, client):
    client.force_login(superuser)
    before = database_dump(exclude=VOLATILE)
    for url in console_urls():
        client.get(url)
        client.get(url, HTTP_HX_REQUEST="true")
    assert database_dump(exclude=VOLATILE) == before
