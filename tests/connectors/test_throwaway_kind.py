"""A CRM in one package: a throwaway kind, declared and served from this one module.

"Tiny CRM" (kind ``tinycrm``) is declared here (its settings, its secret, one operation
with its params), with a connector talking over real HTTP to a small remote served from a
thread of the test process. Registered, it shows up everywhere a CRM does, with no edit
anywhere else: the admin's kind choice (and its add form saves a connection with the
declared settings and secret), a sync indexes its contacts, the console lists its act on
a contact and builds its form from the declared params, and the executor runs the act.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from crmhub.actions import executor
from crmhub.actions.models import Action
from crmhub.actions.services import action_enqueue
from crmhub.connections.models import Connection
from crmhub.connectors import errors, registry
from crmhub.connectors.base import (
    Connector,
    ContactPage,
    OperationResult,
    RemoteContact,
)
from crmhub.connectors.declarations import ConsoleAct, Crm, Field, Operation, Param
from crmhub.contacts.models import Contact, SyncRun
from tests.contacts.helpers import sync

# The sync's threads write through their own database connections (rate-limit slots, pages),
# as in a worker: the tests' data is committed, not held in one test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

KIND = "tinycrm"
TOKEN = "tiny-token-5b1e0c"
PEOPLE = [
    {"id": n, "name": f"Tiny Person{n}", "email": f"tiny{n}@example.com"} for n in range(1, 8)
]


# -- the remote -----------------------------------------------------------------------------
class TinyRemote:
    """A small HTTP remote: ``GET /people`` (paged), ``POST /notes``; a token header."""

    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allowed(self) -> bool:
                if self.headers.get("X-Token") == TOKEN:
                    return True
                self._answer(401, {"error": "bad token"})
                return False

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if not self._allowed():
                    return
                query = parse_qs(url.query)
                offset, limit = int(query["offset"][0]), int(query["limit"][0])
                self._answer(200, {"people": PEOPLE[offset : offset + limit]})

            def do_POST(self) -> None:
                if not self._allowed():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                note = json.loads(self.rfile.read(length))
                remote.notes.append(note)
                self._answer(200, {"ok": True, "note": len(remote.notes)})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the declaration and the connector ---------------------------------------------------------
def _workspace(value: str) -> str:
    if not value.isascii() or not value.isalnum():
        raise ValueError("A workspace is letters and digits only.")
    return value.lower()


OPERATIONS = (
    Operation(
        "add_note",
        "Add a note",
        record_types=("person",),
        params=(Param("text", "Note", required=True, max_length=200),),
        bulk=True,
        act=ConsoleAct(label="Add a tiny note"),
    ),
)


class TinyConnector(Connector):
    kind = KIND
    operations: ClassVar[Mapping[str, Operation]] = {op.name: op for op in OPERATIONS}
    secret_fields = ("token",)

    def _headers(self) -> dict[str, str]:
        return {"X-Token": self.spec.secrets.get("token", "")}

    def check_credentials(self) -> None:
        self.http.request(
            "GET", "people", params={"offset": 0, "limit": 1}, headers=self._headers()
        )

    def iter_contact_pages(
        self, *, since: datetime | None = None, page_size: int = 100
    ) -> Iterator[ContactPage]:
        number = 0
        while True:
            answer = self.http.request(
                "GET",
                "people",
                params={"offset": number * page_size, "limit": page_size},
                headers=self._headers(),
            ).json()
            contacts = tuple(
                RemoteContact(
                    remote_id=str(person["id"]),
                    record_type="person",
                    full_name=person["name"],
                    emails=(person["email"],),
                    raw=person,
                )
                for person in answer["people"]
            )
            yield ContactPage(contacts, number=number)
            if len(contacts) < page_size:
                return
            number += 1

    def perform_add_note(self, params: dict[str, Any]) -> OperationResult:
        body = {"person": params["contact_remote_id"], "text": params["text"]}
        answer = self.http.request("POST", "notes", json_body=body, headers=self._headers()).json()
        if not answer.get("ok"):
            raise errors.Rejected(f"Tiny CRM refused the note: {answer!r}")
        return OperationResult(message=f"Note {answer['note']} added", data=answer)


TINY = Crm(
    kind=KIND,
    label="Tiny CRM",
    connector=TinyConnector,
    default_base_url="https://tiny.example.com/api/",
    record_types=("person",),
    fields=(
        Field("workspace", "Workspace", help_text="Letters and digits.", clean=_workspace),
        Field("token", "API token", secret=True),
    ),
    operations=OPERATIONS,
)


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def remote() -> Iterator[TinyRemote]:
    registry.register(TINY)
    served = TinyRemote()
    yield served
    served.stop()
    registry.unregister(KIND)


@pytest.fixture
def connection(remote: TinyRemote) -> Connection:
    made = Connection(
        name="Tiny", kind=KIND, base_url=remote.url, allow_private_network=True, rate_limit=100.0
    )
    made.settings = {"workspace": "acme"}
    made.set_secrets({"token": TOKEN})
    made.save()
    return made


@pytest.fixture
def contact(connection: Connection) -> Contact:
    run = sync(connection, mode="full")
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    return Contact.objects.get(connection=connection, remote_id="3")


# -- the tests -------------------------------------------------------------------------------
def test_the_admin_offers_the_kind_and_saves_a_connection_of_it(client, superuser, remote):
    client.force_login(superuser)
    add = reverse("admin:connections_connection_add")
    choice = client.get(add).content.decode()
    assert "Tiny CRM" in choice and f"?kind={KIND}" in choice
    form = client.get(add + f"?kind={KIND}").content.decode()
    assert "Workspace" in form and "API token" in form and "Account ID" not in form
    data = {
        "name": "Tiny from the admin",
        "kind": KIND,
        "base_url": remote.url,
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "allow_private_network": "on",
        "setting_workspace": "Acme",
        "secret_token": TOKEN,
    }
    refused = client.post(add + f"?kind={KIND}", {**data, "setting_workspace": "a b"})
    assert refused.status_code == 200
    assert "letters and digits only" in " ".join(
        refused.context["adminform"].form.errors["setting_workspace"]
    )

    response = client.post(add + f"?kind={KIND}", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Connection.objects.get(name="Tiny from the admin")
    assert saved.kind == KIND and str(saved) == "Tiny from the admin (Tiny CRM)"
    assert saved.settings == {"workspace": "acme"}  # cleaned by the declared field
    assert saved.get_secrets() == {"token": TOKEN}


def test_a_sync_indexes_its_contacts(connection):
    run = sync(connection, mode="full")

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.fetched == run.created == len(PEOPLE)
    names = Contact.objects.filter(connection=connection).values_list("full_name", flat=True)
    assert sorted(names) == sorted(person["name"] for person in PEOPLE)
    assert Contact.objects.get(remote_id="2", connection=connection).email_keys == [
        "tiny2@example.com"
    ]


def test_the_console_lists_its_act_and_builds_its_form(client, operator, contact, remote):
    client.force_login(operator)
    act_url = reverse("console:contact-act", args=[contact.pk, "add_note"])
    record = reverse("console:contact-detail", args=[contact.pk])
    page = client.get(record, follow=True).content.decode()
    assert "Add a tiny note" in page and act_url in page
    form = client.get(act_url).content.decode()
    assert 'name="text"' in form and "Note" in form

    refused = client.post(act_url, {"text": "x" * 201})
    assert "Ensure this value has at most 200 characters" in refused.content.decode()
    queued = client.post(act_url, {"text": "Called about the invoice"})

    assert queued.status_code == 302
    action = Action.objects.get()
    assert action.operation == "add_note" and action.state == Action.State.QUEUED
    assert action.params == {"text": "Called about the invoice", "contact_remote_id": "3"}
    assert remote.notes == [], "nothing is sent in the web request"


def test_the_executor_runs_its_act(contact, remote):
    action = action_enqueue(
        operation="add_note",
        connection=contact.connection,
        contact=contact,
        params={"text": "Called"},
        user=None,
    )

    executor.action_execute(action_id=action.pk, task_id="tiny-1")

    action.refresh_from_db()
    assert action.state == Action.State.SUCCEEDED, action.error
    assert action.result["message"] == "Note 1 added"
    assert remote.notes == [{"person": "3", "text": "Called"}]


def test_unregistered_it_is_gone(remote):
    registry.unregister(KIND)
    assert KIND not in registry.CRMS
    with pytest.raises(LookupError):
        registry.connector_class(KIND)
    registry.register(TINY)  # the fixture unregisters it once more
