from __future__ import annotations

import pytest

from crmhub.sandbox.models import Fault

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_superuser_injects_faults_from_the_admin(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/sandbox/fault/add/",
        {
            "kind": "apptivo",
            "latency_ms": "50",
            "error_rate": "0.5",
            "error_status": "503",
            "rate_limit_rate": "0",
            "retry_after": "1",
            "timeout_rate": "0",
            "hang_seconds": "40",
            "malformed_rate": "0",
            "xml_attack": "",
            "fail_next": "0",
            "hide_undocumented": "on",
        },
    )
    assert response.status_code == 302
    fault = Fault.objects.get(kind="apptivo")
    assert (fault.latency_ms, fault.error_rate) == (50, 0.5)
    assert (fault.hide_undocumented, fault.xml_indent) == (True, False)


def test_the_fault_page_is_for_superusers_only(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/sandbox/fault/").status_code == 403
    assert client.get("/admin/sandbox/call/").status_code == 403
