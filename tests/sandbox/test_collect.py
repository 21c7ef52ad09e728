"""The simulated Collect! server's own rules, hit with plain ``requests`` and a raw socket."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import websocket

from crmhub.sandbox import faults
from crmhub.sandbox.collect import WEBSOCKET_PATH, connection_settings, seed
from crmhub.sandbox.models import Account, Call, Record
from crmhub.sandbox.people import people_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def spec(sandbox_spec):  # type: ignore[no-untyped-def]
    return sandbox_spec("collect", people=23)


def url(spec, path: str) -> str:  # type: ignore[no-untyped-def]
    return spec.base_url + path


def headers(spec, token: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {"x-collect-database": spec.settings["database"]}
    if token:
        found["Authorization"] = f"Bearer {token}"
    return found


def login(spec) -> str:  # type: ignore[no-untyped-def]
    body = {"op_id": spec.settings["operator_id"], "op_password": spec.secrets["password"]}
    answer = requests.post(url(spec, "auth/login"), json=body, headers=headers(spec), timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def set_credential(**values: object) -> None:
    account = Account.objects.get(kind="collect")
    account.credentials = {**account.credentials, **values}
    account.save()


def runplan(spec, body: dict, token: str | None = None) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.post(
        url(spec, "collect/app/runplan"),
        json=body,
        headers=headers(spec, token or login(spec)),
        timeout=10,
    )


def error_of(answer: requests.Response) -> str:
    return str(answer.json()["error"])


def record(table: str, rowid: int) -> Record:
    return Record.objects.get(kind="collect", collection=table, remote_id=rowid)


def open_socket(spec):  # type: ignore[no-untyped-def]
    host = spec.base_url.split("//", 1)[1].split("/", 1)[0]
    ws = websocket.create_connection(f"ws://{host}{WEBSOCKET_PATH}", timeout=5)
    hello = json.loads(ws.recv())
    return ws, hello["websocket-id"]


# -- seeding ---------------------------------------------------------------------------------
def test_seed_splits_people_over_the_record_types_mostly_debtors(spec):  # type: ignore[no-untyped-def]
    counts = {
        table: Record.objects.filter(kind="collect", collection=table).count()
        for table in ("debtor", "client", "cosigner", "associate", "contact_plan")
    }
    assert counts == {"debtor": 15, "client": 4, "cosigner": 2, "associate": 2, "contact_plan": 3}
    assert record("client", 1).data["cl_rowid"] == record("debtor", 1).data["de_rowid"] == 1
    rowids = Record.objects.filter(collection="debtor").order_by("remote_id")
    assert list(rowids.values_list("remote_id", flat=True)) == list(range(1, 16))  # dense
    codes = sorted(r.data["cp_code"] for r in Record.objects.filter(collection="contact_plan"))
    assert codes == ["DEL", "PRM", "REV"]


def test_seed_keeps_names_last_first_with_accents_and_missing_emails() -> None:
    people = list(people_for("collect", 200))
    assert seed(people, batch_size=37) == 203
    names = [r.data["de_name"] for r in Record.objects.filter(collection="debtor")]
    assert any("'" in name for name in names)
    assert any(not name.isascii() for name in names)
    first = people[0]
    assert record("debtor", 1).data["de_name"] == f"{first.last_name}, {first.first_name}"
    emails = [r.data["de_email"] for r in Record.objects.filter(collection="debtor")]
    assert "" in emails and any(emails)


def test_connection_settings_name_the_collect_kind_fields() -> None:
    settings, secrets = connection_settings(
        {"op_id": "OWN", "op_password": "pw-1234", "database": "cv_masterdb"}
    )
    assert settings == {
        "operator_id": "OWN",
        "database": "cv_masterdb",
        "websocket_path": "/sandbox/collect/api/v1/ws",
        # The plans as an admin marks them: PRM and DEL prompt, REV never does.
        "prompting_plans": "PRM, DEL",
        "quiet_plans": "REV",
    }
    assert secrets == {"password": "pw-1234"}


# -- login -----------------------------------------------------------------------------------
def test_login_answers_a_token_and_records_no_password(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    assert len(token) > 20
    call = Call.objects.get(kind="collect", operation="auth/login")
    assert call.status == 200
    assert call.params == {"database": "cv_masterdb", "op_id": "OWN"}
    assert spec.secrets["password"] not in json.dumps(call.params)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"op_id": "OWN", "op_password": "wrong-password"}, 401, "Invalid operator"),
        ({"op_password": "x"}, 400, "op_id is required"),
        ({"op_id": "OWN"}, 400, "op_password is required"),
        ({"op_id": "OWN", "op_password": ""}, 400, "op_password is required"),
        (["OWN"], 400, "JSON object"),
    ],
)
def test_login_refusals(spec, body, status, message):  # type: ignore[no-untyped-def]
    answer = requests.post(url(spec, "auth/login"), json=body, headers=headers(spec), timeout=5)
    assert answer.status_code == status
    assert message in error_of(answer)


def test_login_with_a_database_the_account_lacks_is_403(spec):  # type: ignore[no-untyped-def]
    body = {"op_id": "OWN", "op_password": spec.secrets["password"]}
    answer = requests.post(
        url(spec, "auth/login"), json=body, headers={"x-collect-database": "cv_other"}, timeout=5
    )
    assert answer.status_code == 403
    assert "cv_other" in error_of(answer)


def test_login_without_database_header_uses_cv_masterdb(spec):  # type: ignore[no-untyped-def]
    body = {"op_id": "OWN", "op_password": spec.secrets["password"]}
    answer = requests.post(url(spec, "auth/login"), json=body, timeout=5)
    assert answer.status_code == 200
    assert "token" in answer.json()


# -- reading ---------------------------------------------------------------------------------
def test_list_pages_with_limit_and_page(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    answer = requests.get(
        url(spec, "collect/data/debtor"),
        params={"Limit": 4, "Page": 4},
        headers=headers(spec, token),
        timeout=5,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == {"recId": "debtor", "rowId": "de_rowid", "numRecords": 15, "numPages": 4}
    assert [row["de_rowid"] for row in body["data"]] == [13, 14, 15]
    past = requests.get(
        url(spec, "collect/data/debtor"),
        params={"Limit": 4, "Page": 9},
        headers=headers(spec, token),
        timeout=5,
    )
    assert past.json()["data"] == []


def _pages(spec, token: str, limit: int) -> list[tuple[int, list[int]]]:  # type: ignore[no-untyped-def]
    found = []
    for page in range(1, 6):
        body = requests.get(
            url(spec, "collect/data/debtor"),
            params={"Limit": limit, "Page": page},
            headers=headers(spec, token),
            timeout=5,
        ).json()
        found.append((body["type"]["numRecords"], [row["de_rowid"] for row in body["data"]]))
    return found


def test_list_pages_skip_deleted_records(spec):  # type: ignore[no-untyped-def]
    Record.objects.filter(collection="debtor", remote_id__in=[2, 5, 15]).update(deleted=True)
    pages = _pages(spec, login(spec), 4)
    assert {total for total, _ in pages} == {12}
    assert [rows for _, rows in pages] == [
        [1, 3, 4, 6],
        [7, 8, 9, 10],
        [11, 12, 13, 14],
        [],
        [],
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 5}, "Unknown query parameter 'limit'"),
        ({"Limit": 0}, "Limit must be between 1 and 1000"),
        ({"Limit": 1001}, "Limit must be between 1 and 1000"),
        ({"Limit": "ten"}, "Limit must be a whole number"),
        ({"Page": 0}, "Page must be at least 1"),
        ({"Page": "-1"}, "Page must be a whole number"),
    ],
)
def test_list_refuses_bad_paging(spec, params, message):  # type: ignore[no-untyped-def]
    answer = requests.get(
        url(spec, "collect/data/debtor"),
        params=params,
        headers=headers(spec, login(spec)),
        timeout=5,
    )
    assert answer.status_code == 400
    assert message in error_of(answer)


def test_list_of_unknown_table_is_404(spec):  # type: ignore[no-untyped-def]
    answer = requests.get(
        url(spec, "collect/data/creditor"), headers=headers(spec, login(spec)), timeout=5
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "Bearer <token> is required"),
        ("Token abc", "Bearer <token> is required"),
        ("Bearer not-a-token", "not valid"),
    ],
)
def test_reads_need_a_valid_bearer_token(spec, authorization, message):  # type: ignore[no-untyped-def]
    sent = headers(spec)
    if authorization:
        sent["Authorization"] = authorization
    answer = requests.get(url(spec, "collect/data/debtor"), headers=sent, timeout=5)
    assert answer.status_code == 401
    assert message in error_of(answer)
    assert Call.objects.get(operation="data/list").status == 401


def test_tokens_expire_after_the_account_lifetime(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    set_credential(token_lifetime=1)
    time.sleep(2.1)
    answer = requests.get(url(spec, "collect/data/debtor"), headers=headers(spec, token), timeout=5)
    assert answer.status_code == 401
    assert "expired" in error_of(answer)


def test_a_password_change_invalidates_tokens(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    set_credential(op_password="a-new-password")
    answer = requests.get(url(spec, "collect/data/debtor"), headers=headers(spec, token), timeout=5)
    assert answer.status_code == 401


def test_reads_of_another_database_are_403(spec):  # type: ignore[no-untyped-def]
    sent = {**headers(spec, login(spec)), "x-collect-database": "cv_branch2"}
    answer = requests.get(url(spec, "collect/data/debtor"), headers=sent, timeout=5)
    assert answer.status_code == 403


def test_show_one_record_and_refusals(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    shown = requests.get(
        url(spec, "collect/data/client/2"), headers=headers(spec, token), timeout=5
    )
    assert shown.status_code == 200
    assert shown.json()["data"][0]["cl_rowid"] == 2
    missing = requests.get(
        url(spec, "collect/data/client/999"), headers=headers(spec, token), timeout=5
    )
    assert missing.status_code == 404
    bad = requests.get(url(spec, "collect/data/client/x1"), headers=headers(spec, token), timeout=5)
    assert bad.status_code == 400


# -- runplan ---------------------------------------------------------------------------------
def test_runplan_without_prompt_answers_200_without_body(spec):  # type: ignore[no-untyped-def]
    answer = runplan(spec, {"plan": "REV", "debtor": 3})
    assert answer.status_code == 200
    assert answer.content == b""
    call = Call.objects.get(operation="app/runplan")
    assert (call.effect, call.applied, call.status) == ("runplan:debtor:3:REV", True, 200)
    assert call.params == {"database": "cv_masterdb", "plan": "REV", "debtor": 3}
    assert record("debtor", 3).data["de_last_plan"] == "REV"
    assert Record.objects.filter(collection="note").count() == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"debtor": 1}, "plan is required"),
        ({"plan": "", "debtor": 1}, "plan is required"),
        ({"plan": "REVIEW-EVERY", "debtor": 1}, "at most 10 characters"),
        ({"plan": "REV"}, "One of debtor, client, cosigner, associate is required"),
        ({"plan": "REV", "debtor": 1, "client": 1}, "Give only one record"),
        ({"plan": "REV", "debtor": "1"}, "rowid as a whole number"),
        ({"plan": "REV", "debtor": True}, "rowid as a whole number"),
        ({"plan": "REV", "debtor": 0}, "positive rowid"),
        ({"plan": "REV", "debtor": 1, "websocket_id": "x"}, "Unknown field 'websocket_id'"),
        ({"plan": "REV", "debtor": 1, "websocket-id": 5}, "websocket-id must be a string"),
    ],
)
def test_runplan_refuses_bad_bodies(spec, body, message):  # type: ignore[no-untyped-def]
    answer = runplan(spec, body)
    assert answer.status_code == 400
    assert message in error_of(answer)
    assert not Call.objects.filter(operation="app/runplan", applied=True).exists()


def test_runplan_unknown_plan_or_record_is_404(spec):  # type: ignore[no-untyped-def]
    token = login(spec)
    assert runplan(spec, {"plan": "rev", "debtor": 1}, token).status_code == 404
    assert runplan(spec, {"plan": "REV", "associate": 99}, token).status_code == 404
    assert not Call.objects.filter(operation="app/runplan", applied=True).exists()


def test_runplan_needs_a_token(spec):  # type: ignore[no-untyped-def]
    answer = requests.post(
        url(spec, "collect/app/runplan"), json={"plan": "REV", "debtor": 1}, timeout=5
    )
    assert answer.status_code == 401
    assert record("debtor", 1).data["de_last_plan"] == ""


def test_prompting_plan_without_socket_fails_and_rolls_back(spec):  # type: ignore[no-untyped-def]
    answer = runplan(spec, {"plan": "PRM", "debtor": 2, "websocket-id": "43tzLWO2RJzlxQPpsw4EOA=="})
    assert answer.status_code == 409
    assert "rolled back" in error_of(answer)
    assert record("debtor", 2).data["de_next_contact"] == ""
    assert not Record.objects.filter(collection="note").exists()
    call = Call.objects.get(operation="app/runplan")
    assert (call.applied, call.status) == (False, 409)


def _run_in_thread(spec, body):  # type: ignore[no-untyped-def]
    token = login(spec)
    outcome: dict[str, requests.Response] = {}
    thread = threading.Thread(target=lambda: outcome.update(answer=runplan(spec, body, token)))
    thread.start()
    return thread, outcome


def test_prompt_over_the_socket_answered_applies_the_plan(spec):  # type: ignore[no-untyped-def]
    ws, websocket_id = open_socket(spec)
    thread, outcome = _run_in_thread(
        spec, {"plan": "PRM", "client": 1, "websocket-id": websocket_id}
    )
    prompt = json.loads(ws.recv())
    assert prompt["type"] == "prompt"
    assert prompt["fields"][0]["name"] == "start_date"
    ws.send(json.dumps({"type": "answer", "prompt_id": "stale", "values": {}}))
    ws.send(
        json.dumps(
            {
                "type": "answer",
                "prompt_id": prompt["prompt_id"],
                "values": {"start_date": "2031-02-03"},
            }
        )
    )
    done = json.loads(ws.recv())
    thread.join(10)
    ws.close()
    assert done == {"type": "done", "ok": True, "message": "Contact plan PRM completed."}
    assert outcome["answer"].status_code == 200
    assert record("client", 1).data["cl_next_contact"] == "2031-02-03"
    assert Call.objects.filter(operation="app/runplan", applied=True).count() == 1


def test_invalid_prompt_answer_fails_the_plan(spec):  # type: ignore[no-untyped-def]
    ws, websocket_id = open_socket(spec)
    thread, outcome = _run_in_thread(
        spec, {"plan": "PRM", "debtor": 1, "websocket-id": websocket_id}
    )
    prompt = json.loads(ws.recv())
    ws.send(
        json.dumps(
            {"type": "answer", "prompt_id": prompt["prompt_id"], "values": {"start_date": "3/2/31"}}
        )
    )
    done = json.loads(ws.recv())
    thread.join(10)
    ws.close()
    assert done["ok"] is False
    assert outcome["answer"].status_code == 409
    assert "YYYY-MM-DD" in error_of(outcome["answer"])
    assert record("debtor", 1).data["de_next_contact"] == ""


def test_unanswered_prompt_times_out_and_rolls_back(spec, settings):  # type: ignore[no-untyped-def]
    settings.SANDBOX_COLLECT_PROMPT_TIMEOUT = 0.5
    ws, websocket_id = open_socket(spec)
    thread, outcome = _run_in_thread(
        spec, {"plan": "DEL", "debtor": 4, "websocket-id": websocket_id}
    )
    assert json.loads(ws.recv())["type"] == "prompt"
    done = json.loads(ws.recv())
    thread.join(10)
    ws.close()
    assert done["ok"] is False
    assert "not answered within 0.5 s" in done["message"]
    assert outcome["answer"].status_code == 409
    assert not record("debtor", 4).deleted
    assert not Call.objects.filter(operation="app/runplan", applied=True).exists()


def test_closing_the_socket_cancels_the_waiting_plan(spec):  # type: ignore[no-untyped-def]
    ws, websocket_id = open_socket(spec)
    started = time.monotonic()
    thread, outcome = _run_in_thread(
        spec, {"plan": "DEL", "debtor": 5, "websocket-id": websocket_id}
    )
    assert json.loads(ws.recv())["type"] == "prompt"
    ws.close()
    thread.join(10)
    assert time.monotonic() - started < 10
    assert outcome["answer"].status_code == 409
    assert "closed" in error_of(outcome["answer"])
    assert not record("debtor", 5).deleted


def test_delete_plan_confirmed_removes_the_record_from_listings(spec):  # type: ignore[no-untyped-def]
    ws, websocket_id = open_socket(spec)
    thread, outcome = _run_in_thread(
        spec, {"plan": "DEL", "cosigner": 2, "websocket-id": websocket_id}
    )
    prompt = json.loads(ws.recv())
    ws.send(
        json.dumps(
            {"type": "answer", "prompt_id": prompt["prompt_id"], "values": {"confirm": True}}
        )
    )
    thread.join(10)
    ws.close()
    assert outcome["answer"].status_code == 200
    assert record("cosigner", 2).deleted
    listing = requests.get(
        url(spec, "collect/data/cosigner"), headers=headers(spec, login(spec)), timeout=5
    ).json()
    assert listing["type"]["numRecords"] == 1


def test_socket_on_another_path_is_refused(spec):  # type: ignore[no-untyped-def]
    host = spec.base_url.split("//", 1)[1].split("/", 1)[0]
    with pytest.raises(websocket.WebSocketException):
        websocket.create_connection(f"ws://{host}/sandbox/collect/api/v1/other", timeout=5)


def test_injected_fault_comes_first_and_is_recorded(spec):  # type: ignore[no-untyped-def]
    faults.configure("collect", fail_next=1, error_status=502)
    body = {"op_id": "OWN", "op_password": spec.secrets["password"]}
    answer = requests.post(url(spec, "auth/login"), json=body, headers=headers(spec), timeout=5)
    assert answer.status_code == 502
    assert Call.objects.get(operation="auth/login").status == 502
