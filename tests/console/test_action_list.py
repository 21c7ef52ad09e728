"""The actions page: filters read by the form, rows read by ``action_page``, "more" by keyset."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db
ROW = re.compile(r'<td><a href="/actions/(\d+)/">')
MORE = re.compile(r'hx-get="([^"]+)"\s+hx-target="#more-actions"')


def _listed(client, url: str, htmx: bool = False) -> tuple[list[int], str | None]:  # type: ignore[no-untyped-def]
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "more-actions"} if htmx else {}
    html = client.get(url, **headers).content.decode()
    more = MORE.search(html)
    return [int(pk) for pk in ROW.findall(html)], more and more.group(1).replace("&amp;", "&")


def test_more_loads_the_next_rows_of_the_same_filters(client, viewer, connections):
    client.force_login(viewer)
    failed = [
        make_action(connections["allclients"], "run_action_set", state=Action.State.FAILED)
        for _ in range(53)
    ]
    make_action(connections["allclients"], "run_action_set")  # succeeded: filtered out

    first, more = _listed(client, reverse("console:action-list") + "?state=failed")
    assert more is not None and "state=failed" in more
    second, after_second = _listed(client, more, htmx=True)

    assert len(first) == 50 and after_second is None
    assert first + second == sorted((a.pk for a in failed), reverse=True)


def test_an_invalid_filter_lists_everything(client, viewer, connections):
    client.force_login(viewer)
    made = [make_action(connections["apptivo"], "customer_create") for _ in range(3)]

    listed, more = _listed(client, reverse("console:action-list") + "?state=nonsense&after=x_1")

    assert listed == sorted((a.pk for a in made), reverse=True) and more is None
