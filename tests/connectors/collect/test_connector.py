"""The Collect! connector against the simulated Collect! server over real HTTP and a real socket."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC
from typing import Any

import pytest

from crmhub.connectors import errors
from crmhub.connectors.base import Prompt
from crmhub.connectors.collect import client as collect_client
from crmhub.connectors.collect.connector import UNDOCUMENTED, CollectConnector
from crmhub.connectors.http import HttpClient, Response
from crmhub.connectors.registry import get_connector
from crmhub.sandbox import faults
from crmhub.sandbox.models import Account, Call, Record
from tests.connectors.contract import ConnectorContract

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def _fresh_tokens():  # type: ignore[no-untyped-def]
    collect_client.forget_tokens()
    yield
    collect_client.forget_tokens()


def calls(operation: str, **filters: Any) -> list[Call]:
    return list(Call.objects.filter(kind="collect", operation=operation, **filters).order_by("id"))


def record(table: str, rowid: int) -> Record:
    return Record.objects.get(kind="collect", collection=table, remote_id=rowid)


def set_credential(**values: object) -> None:
    account = Account.objects.get(kind="collect")
    account.credentials = {**account.credentials, **values}
    account.save()


class Answers:
    """A prompt handler that answers with ``values`` (None: nobody answered) and remembers."""

    def __init__(self, *values: dict[str, Any] | None, delay: float = 0.0) -> None:
        self.values = list(values)
        self.delay = delay
        self.prompts: list[Prompt] = []

    def __call__(self, prompt: Prompt) -> dict[str, Any] | None:
        self.prompts.append(prompt)
        time.sleep(self.delay)
        return self.values.pop(0)


class TestCollectConnector(ConnectorContract):
    kind = "collect"
    people = 23  # 15 debtors, 4 clients, 2 cosigners, 2 associates

    def a_change(self) -> tuple[str, dict[str, Any]]:
        return "run_plan", {"contact_remote_id": "debtor:1", "plan": "REV"}

    def a_read(self) -> tuple[str, dict[str, Any]]:
        return "show_record", {"contact_remote_id": "debtor:1"}

    # -- listing ---------------------------------------------------------------------------
    def test_listing_yields_typed_contacts_of_all_four_tables(self, connector):  # type: ignore[no-untyped-def]
        pages = list(connector.iter_contact_pages(page_size=10))
        found = [c for page in pages for c in page.contacts]
        assert {page.total for page in pages} == {23}
        assert [page.number for page in pages] == list(range(len(pages)))
        by_id = {c.remote_id: c for c in found}
        assert {"debtor:1", "client:1", "cosigner:1", "associate:1"} <= set(by_id)
        debtor = by_id["debtor:1"]
        stored = record("debtor", 1).data
        assert debtor.record_type == "debtor"
        assert f"{debtor.last_name}, {debtor.first_name}" == stored["de_name"]
        assert debtor.phones == (stored["de_home_phone"],)
        assert debtor.updated_at is not None and debtor.updated_at.tzinfo == UTC
        assert debtor.raw == stored
        assert any(not c.emails for c in found) and any(c.emails for c in found)

    def test_listing_sends_limit_page_and_database(self, connector):  # type: ignore[no-untyped-def]
        list(connector.iter_contact_pages(page_size=7))
        debtor_pages = [c.params for c in calls("data/list") if c.params["record"] == "debtor"]
        assert debtor_pages == [
            {"record": "debtor", "Limit": "7", "Page": str(n), "database": "cv_masterdb"}
            for n in (1, 2, 3)
        ]
        assert len(calls("auth/login")) == 1

    def test_a_repeated_page_is_a_bad_response(self, spec):  # type: ignore[no-untyped-def]
        connector = CollectConnector(spec, http=LoopingHttp(base_url=spec.base_url))
        with pytest.raises(errors.BadResponse, match="paging does not advance"):
            list(connector.iter_contact_pages(page_size=2))

    def test_deleted_records_leave_the_listing(self, connector):  # type: ignore[no-untyped-def]
        Record.objects.filter(collection="client", remote_id=2).update(deleted=True)
        ids = [c.remote_id for p in connector.iter_contact_pages(page_size=50) for c in p.contacts]
        assert len(ids) == 22 and "client:2" not in ids

    # -- login, tokens, database -----------------------------------------------------------
    def test_token_is_reused_across_connectors(self, spec):  # type: ignore[no-untyped-def]
        for _ in range(2):
            connector = get_connector(spec)
            list(connector.iter_contact_pages(page_size=50))
            connector.close()
        assert len(calls("auth/login")) == 1
        assert all(c.status == 200 for c in calls("data/list"))

    def test_expired_token_leads_to_one_new_login(self, connector):  # type: ignore[no-untyped-def]
        list(connector.iter_contact_pages(page_size=50))
        set_credential(token_lifetime=2)
        time.sleep(2.1)
        assert len(list(connector.iter_contact_pages(page_size=50))) == 4
        # Every refused (expired) token costs exactly one new login. The server stamps tokens
        # with whole seconds, so a new token lives 1-2 s: enough for the page asked again, but
        # on a loaded machine one may expire again before the last page: count them.
        expired = [c.status for c in calls("data/list")].count(401)
        assert expired >= 1
        assert len(calls("auth/login", status=200)) == 1 + expired

    def test_only_one_relogin_when_tokens_keep_failing(self, connector):  # type: ignore[no-untyped-def]
        set_credential(token_lifetime=0)
        with pytest.raises(errors.AuthFailed, match="expired"):
            list(connector.iter_contact_pages(page_size=50))
        assert len(calls("auth/login")) == 2
        assert [c.status for c in calls("data/list")] == [401, 401]

    def test_wrong_database_is_refused_with_the_vendor_message(self, sandbox_spec):  # type: ignore[no-untyped-def]
        spec = sandbox_spec("collect", people=3)
        wrong = dataclasses.replace(spec, settings={**spec.settings, "database": "cv_branch9"})
        connector = get_connector(wrong)
        with pytest.raises(errors.AuthFailed, match="cv_branch9") as caught:
            connector.check_credentials()
        assert caught.value.status == 403
        assert calls("auth/login")[0].params["database"] == "cv_branch9"

    def test_token_never_appears_in_recorded_calls(self, connector):  # type: ignore[no-untyped-def]
        list(connector.iter_contact_pages(page_size=50))
        token = connector.client.token()
        dump = json.dumps([call.as_dict() for call in connector.drain_calls()])
        assert token not in dump
        assert "[redacted]" in dump

    # -- run_plan --------------------------------------------------------------------------
    def test_run_plan_without_prompt(self, connector):  # type: ignore[no-untyped-def]
        result = connector.run("run_plan", {"contact_remote_id": "debtor:3", "plan": " REV "})
        assert result.remote_id == "debtor:3"
        assert result.data["plan"] == "REV" and result.data["prompts"] == []
        assert result.data["done"] == {"ok": True, "message": "Contact plan REV completed."}
        (call,) = calls("app/runplan")
        assert call.params == {
            "database": "cv_masterdb",
            "plan": "REV",
            "debtor": 3,
            "websocket-id": result.data["websocket_id"],
        }
        assert (call.effect, call.applied, call.status) == ("runplan:debtor:3:REV", True, 200)
        assert record("debtor", 3).data["de_last_plan"] == "REV"

    def test_prompt_answered_applies_the_plan_once(self, connector):  # type: ignore[no-untyped-def]
        answers = Answers({"start_date": "2030-01-15"})
        result = connector.run(
            "run_plan", {"contact_remote_id": "client:2", "plan": "PRM"}, on_prompt=answers
        )
        (prompt,) = answers.prompts
        assert prompt.fields[0]["name"] == "start_date"
        assert prompt.message.startswith("Contact plan PRM")
        assert result.data["prompts"][0]["values"] == {"start_date": "2030-01-15"}
        assert record("client", 2).data["cl_next_contact"] == "2030-01-15"
        assert len(calls("app/runplan", applied=True, effect="runplan:client:2:PRM")) == 1

    def test_prompt_unanswered_cancels_and_rolls_back(self, connector):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        with pytest.raises(errors.NeedsInput, match="rolled its changes back"):
            connector.run(
                "run_plan",
                {"contact_remote_id": "debtor:4", "plan": "PRM"},
                on_prompt=Answers(None),
            )
        assert time.monotonic() - started < 5
        (call,) = calls("app/runplan")
        assert (call.applied, call.status) == (False, 409)
        assert record("debtor", 4).data["de_next_contact"] == ""
        assert not Record.objects.filter(collection="note").exists()

    def test_prompt_without_a_handler_needs_input(self, connector):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.NeedsInput):
            connector.run("run_plan", {"contact_remote_id": "debtor:4", "plan": "DEL"})
        assert not record("debtor", 4).deleted
        assert not calls("app/runplan", applied=True)

    def test_answer_after_the_server_gave_up_needs_input(self, connector, settings):  # type: ignore[no-untyped-def]
        settings.SANDBOX_COLLECT_PROMPT_TIMEOUT = 0.5
        late = Answers({"start_date": "2030-01-15"}, delay=1.5)
        with pytest.raises(errors.NeedsInput):
            connector.run(
                "run_plan", {"contact_remote_id": "debtor:6", "plan": "PRM"}, on_prompt=late
            )
        assert record("debtor", 6).data["de_next_contact"] == ""
        (call,) = calls("app/runplan")
        assert (call.applied, call.status) == (False, 409)

    def test_delete_plan_confirmed(self, connector):  # type: ignore[no-untyped-def]
        connector.run(
            "run_plan",
            {"contact_remote_id": "associate:2", "plan": "DEL"},
            on_prompt=Answers({"confirm": True}),
        )
        assert record("associate", 2).deleted
        assert len(calls("app/runplan", applied=True)) == 1

    def test_delete_plan_declined_is_rejected(self, connector):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.Rejected, match="did not confirm") as caught:
            connector.run(
                "run_plan",
                {"contact_remote_id": "associate:2", "plan": "DEL"},
                on_prompt=Answers({"confirm": False}),
            )
        assert caught.value.status == 409
        assert not record("associate", 2).deleted

    @pytest.mark.parametrize(
        ("remote_id", "plan", "message"),
        [
            ("debtor:3", "NOPE", "Contact plan 'NOPE' does not exist"),
            ("debtor:99", "REV", "rowid 99"),
        ],
    )
    def test_unknown_plan_or_record_is_not_found(self, connector, remote_id, plan, message):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.NotFound, match=message):
            connector.run("run_plan", {"contact_remote_id": remote_id, "plan": plan})
        (call,) = calls("app/runplan")
        assert (call.applied, call.status) == (False, 404)

    @pytest.mark.parametrize(
        ("params", "fields"),
        [
            ({}, {"contact_remote_id", "plan"}),
            ({"contact_remote_id": "123", "plan": "REV"}, {"contact_remote_id"}),
            ({"contact_remote_id": "creditor:1", "plan": "REV"}, {"contact_remote_id"}),
            ({"contact_remote_id": "debtor:0", "plan": "REV"}, {"contact_remote_id"}),
            ({"contact_remote_id": "debtor:1", "plan": "  "}, {"plan"}),
            ({"contact_remote_id": "debtor:1", "plan": "R EV"}, {"plan"}),
            ({"contact_remote_id": "debtor:1", "plan": "ELEVENCHARS"}, {"plan"}),
            ({"contact_remote_id": "debtor:1", "plan": 5}, {"plan"}),
        ],
    )
    def test_invalid_params_are_refused_before_sending(self, connector, params, fields):  # type: ignore[no-untyped-def]
        with pytest.raises(errors.InvalidParams) as caught:
            connector.run("run_plan", params)
        assert set(caught.value.errors) == fields
        assert not Call.objects.exists()

    def test_rate_limited_run_plan_was_not_sent(self, connector):  # type: ignore[no-untyped-def]
        connector.check_credentials()
        faults.configure("collect", rate_limit_rate=1.0, retry_after=3)
        with pytest.raises(errors.RateLimited) as caught:
            connector.run("run_plan", {"contact_remote_id": "debtor:1", "plan": "REV"})
        assert caught.value.request_sent is False and caught.value.retry_after == 3
        assert not calls("app/runplan", applied=True)

    def test_hang_after_apply_is_an_unknown_outcome(self, spec):  # type: ignore[no-untyped-def]
        # The plan may run 3 s without a word from the server; it hangs for 7.
        idle = dataclasses.replace(spec, settings={**spec.settings, "plan_idle_seconds": 3})
        connector = get_connector(idle)
        connector.check_credentials()
        faults.configure("collect", timeout_after_apply=True, timeout_rate=1.0, hang_seconds=7)
        with pytest.raises(errors.UnknownOutcome):
            connector.run("run_plan", {"contact_remote_id": "debtor:1", "plan": "REV"})
        assert len(calls("app/runplan", applied=True)) == 1

    def test_socket_to_a_private_address_is_refused_without_permission(self, spec):  # type: ignore[no-untyped-def]
        closed = dataclasses.replace(spec, allow_private_network=False)
        connector = CollectConnector(
            closed, http=HttpClient(base_url=spec.base_url, allow_private_network=True)
        )
        with pytest.raises(errors.BlockedAddress):
            connector.run("run_plan", {"contact_remote_id": "debtor:1", "plan": "REV"})
        assert not calls("app/runplan")

    # -- reads as operations ---------------------------------------------------------------
    def test_show_record(self, connector):  # type: ignore[no-untyped-def]
        result = connector.run("show_record", {"contact_remote_id": "cosigner:2"})
        assert result.remote_id == "cosigner:2"
        assert result.data["raw"] == record("cosigner", 2).data
        assert result.data["record_type"] == "cosigner"
        json.dumps(result.data)
        with pytest.raises(errors.NotFound):
            connector.run("show_record", {"contact_remote_id": "cosigner:77"})

    def test_list_plans(self, connector):  # type: ignore[no-untyped-def]
        result = connector.run("list_plans", {})
        assert [plan["code"] for plan in result.data["plans"]] == ["REV", "PRM", "DEL"]
        json.dumps(result.data)

    def test_list_plans_on_a_server_without_it_is_not_available(self, connector):  # type: ignore[no-untyped-def]
        assert set(UNDOCUMENTED) == {"list_plans"}
        faults.configure("collect", hide_undocumented=True)
        result = connector.run("list_plans", {})
        assert result.data == {"available": False}
        assert "not available from this CRM" in result.message
        # Nothing else depends on it: a plan still runs by its code.
        ran = connector.run("run_plan", {"contact_remote_id": "debtor:1", "plan": "REV"})
        assert ran.remote_id == "debtor:1"

    def test_operations_declare_their_safety(self, connector):  # type: ignore[no-untyped-def]
        assert connector.operations["run_plan"].safe is False
        assert connector.operations["show_record"].safe is True
        assert connector.operations["list_plans"].needs_contact is False
        assert connector.secret_fields == ("op_password",)


class LoopingHttp(HttpClient):
    """A server whose listing ignores ``Page`` and answers page 1 again and again."""

    def request(self, method: str, path: str, **kwargs: Any) -> Response:  # type: ignore[override]
        if path == "auth/login":
            body: dict[str, Any] = {"token": "token-abcdef"}
        else:
            table = path.rsplit("/", 1)[1]
            prefix = {"debtor": "de", "client": "cl", "cosigner": "cs", "associate": "as"}[table]
            rows = [{f"{prefix}_rowid": n, f"{prefix}_name": f"Row, {n}"} for n in (1, 2)]
            header = {"recId": table, "rowId": f"{prefix}_rowid", "numRecords": 9, "numPages": 5}
            body = {"type": header, "data": rows}
        return Response(200, {}, json.dumps(body).encode(), self.url_for(path))
