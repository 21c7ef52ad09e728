"""Each user's profile: the zone their times are shown in (the site's by default)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from crmhub.core.middleware import SESSION_KEY
from crmhub.core.models import Profile
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
PROFILE = reverse("console:profile")


def test_the_profile_page_shows_the_sites_zone_by_default(client, viewer, settings):
    client.force_login(viewer)
    html = client.get(PROFILE).content.decode()
    assert f"The site&#x27;s zone ({settings.TIME_ZONE})" in html
    assert '<strong id="current-zone">UTC</strong>' in html
    assert f'href="{PROFILE}"' in html  # the user's name in the header opens it


def test_a_chosen_zone_is_saved_and_every_time_follows_it(client, operator, connections):
    action = make_action(connections["allclients"], "run_action_set", user=operator)
    type(action).objects.filter(pk=action.pk).update(
        created_at=datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)
    )
    client.force_login(operator)
    detail = reverse("console:action-detail", args=[action.pk])
    assert "2026-07-01 12:00:05 UTC" in client.get(detail).content.decode()

    response = client.post(PROFILE, {"time_zone": "Asia/Tokyo"}, follow=True)
    assert response.redirect_chain == [(PROFILE, 302)]
    assert "Saved: times are now shown in your chosen zone." in response.content.decode()
    assert '<strong id="current-zone">Asia/Tokyo</strong>' in response.content.decode()
    assert Profile.objects.get(user=operator).time_zone == "Asia/Tokyo"
    html = client.get(detail).content.decode()
    assert '<time datetime="2026-07-01T12:00:05+00:00">2026-07-01 21:00:05 JST</time>' in html

    client.post(PROFILE, {"time_zone": ""})  # back to the site's zone
    assert Profile.objects.get(user=operator).time_zone == ""
    assert "2026-07-01 12:00:05 UTC" in client.get(detail).content.decode()


def test_the_zone_comes_with_the_sign_in(client, viewer):
    Profile.objects.create(user=viewer, time_zone="America/Chicago")
    client.post("/login/", {"username": "viewer", "password": "pw-viewer"})
    assert client.session[SESSION_KEY] == "America/Chicago"
    html = client.get(PROFILE).content.decode()
    assert '<strong id="current-zone">America/Chicago</strong>' in html
    assert " CST</time>" in html or " CDT</time>" in html


def test_a_session_from_before_profiles_reads_the_zone_once(client, viewer):
    client.force_login(viewer)
    session = client.session
    del session[SESSION_KEY]
    session.save()
    Profile.objects.create(user=viewer, time_zone="Europe/Paris")
    assert "Europe/Paris" in client.get(PROFILE).content.decode()
    assert client.session[SESSION_KEY] == "Europe/Paris"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "<script>", "x" * 500])
def test_an_unknown_zone_is_refused_with_the_reason(client, viewer, zone):
    client.force_login(viewer)
    response = client.post(PROFILE, {"time_zone": zone})
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert not Profile.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for method in (client.get, client.post):
        response = method(PROFILE)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
