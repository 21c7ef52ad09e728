from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_login_page_is_served_by_the_real_server(web_server):
    response = requests.get(f"{web_server}/login/", timeout=5)
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.text


def test_roles_exist_after_migrate():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "admin"}
