"""The simulated AllClients API: ``POST <Method>.aspx`` form posts answering XML or JSON.

Every endpoint injects the configured faults first, checks the account id and key like the
vendor (a wrong one answers ``<results><error>Authentication failed</error></results>``
with HTTP 200), writes one ledger row per call (never the key), and applies a change in
the same transaction as its ledger row, so a test can prove it happened at most once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from zoneinfo import ZoneInfo

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.allclients import render, rules, store
from crmhub.sandbox.allclients.render import Node
from crmhub.sandbox.allclients.rules import VendorError
from crmhub.sandbox.models import Record

KIND = store.KIND
#: Assumption: the largest page GetContacts serves (bigger ``pagingsize`` is cut to it).
MAX_PAGE_SIZE = 500
#: The document says calls without paging "will be delayed"; this simulator waits this long
#: and then serves one largest page.
UNPAGED_DELAY_SECONDS = 1.0
CONTACT_FIELDS = (
    "firstname",
    "lastname",
    "company",
    "email",
    "otheremail",
    "phone",
    "adddate",
    "editdate",
)
DATE_FIELDS = frozenset({"adddate", "editdate"})


@dataclass(frozen=True)
class Outcome:
    """What a handled request answers, and the change it applied (if any)."""

    nodes: list[Node]
    effect: str = ""
    applied: bool = False


Handler = Callable[[Mapping[str, str], ZoneInfo], Outcome]


def endpoint(
    operation: str, *, changes: bool = False
) -> Callable[[Handler], Callable[[HttpRequest], HttpResponse]]:
    """Turn ``handler`` into a view: faults, POST only, credentials, ledger, format.

    A handler that ``changes`` data runs in one transaction with its ledger row; a read runs
    outside any transaction (on SQLite a transaction takes the write lock).
    """

    def wrap(handler: Handler) -> Callable[[HttpRequest], HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            fields = (request.POST if request.method == "POST" else request.GET).dict()
            as_json = render.wants_json(fields.get("response_type"))
            injected = faults.inject(KIND, xml=not as_json)
            if injected is not None:
                ledger.record(KIND, operation, fields, status=injected.status_code)
                return injected
            if request.method != "POST":
                ledger.record(KIND, operation, fields, status=405)
                return HttpResponseNotAllowed(["POST"])
            return _handle(operation, handler, fields, as_json=as_json, changes=changes)

        return view

    return wrap


def _handle(
    operation: str, handler: Handler, fields: dict[str, str], *, as_json: bool, changes: bool
) -> HttpResponse:
    credentials = store.account_credentials()
    try:
        rules.authenticate(fields, credentials)
        zone = ZoneInfo(credentials.get("time_zone") or store.DEFAULT_TIME_ZONE)
        with transaction.atomic(using="sandbox") if changes else nullcontext():
            outcome = handler(rules.trim(fields), zone)
            ledger.record(KIND, operation, fields, effect=outcome.effect, applied=outcome.applied)
    except VendorError as exc:
        ledger.record(KIND, operation, fields)
        return render.error(exc.text, as_json=as_json)
    if outcome.applied:
        faults.after_apply(KIND)
    return render.answer(outcome.nodes, as_json=as_json)


# -- reads -----------------------------------------------------------------------------------
def contact_nodes(row: Record | store.ContactRow, zone: ZoneInfo) -> list[Node]:
    """Return one contact's elements; empty fields are left out, as the vendor does."""
    nodes: list[Node] = [("id", str(row.remote_id))]
    for name in CONTACT_FIELDS:
        value = row.data.get(name)
        if value in (None, ""):
            continue
        text = render.vendor_datetime(value, zone) if name in DATE_FIELDS else str(value)
        nodes.append((name, text))
    return nodes


def _contacts(fields: Mapping[str, str]) -> Sequence[Record | store.ContactRow]:
    size = rules.number(fields, "pagingsize") or 0
    offset = rules.number(fields, "pagingoffset", default=0) or 0
    contact_id = rules.number(fields, "contactid")
    email = fields.get("email", "").strip()
    if size < 1:
        time.sleep(UNPAGED_DELAY_SECONDS)
        size = MAX_PAGE_SIZE
    size = min(size, MAX_PAGE_SIZE)
    if email:
        matches = store.contacts_by_email(email, other=False)
        if contact_id is not None:
            matches = [row for row in matches if row.remote_id == contact_id]
        return sorted(matches, key=lambda row: row.remote_id)[offset : offset + size]
    if contact_id is not None:
        row = store.find(store.CONTACT, contact_id)
        return [row] if row is not None and offset == 0 else []
    return store.contacts_page(offset=offset, size=size)


@endpoint("GetContacts")
def get_contacts(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """List contacts in contactid order, ``pagingsize`` from ``pagingoffset``."""
    contacts: list[Node] = [("contact", contact_nodes(row, zone)) for row in _contacts(fields)]
    return Outcome([("contacts", contacts)])


@endpoint("GetCategories")
def get_categories(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """List the account's contact categories."""
    categories: list[Node] = [
        ("category", [("categoryid", str(row.remote_id)), ("name", row.data["name"])])
        for row in store.rows(store.CATEGORY).order_by("remote_id")
    ]
    return Outcome([("categories", categories)])


def _contact(fields: Mapping[str, str]) -> Record:
    contact_id = rules.number(fields, "contactid")
    if contact_id is None:
        raise VendorError("contactid is required")
    contact = store.find(store.CONTACT, contact_id)
    if contact is None:
        raise VendorError("Contact not found")
    return contact


@endpoint("GetContactLinks")
def get_contact_links(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """List one contact's links (assumption: not in the documents given)."""
    contact = _contact(fields)
    links: list[Node] = [
        (
            "link",
            [
                ("id", str(row.remote_id)),
                ("url", row.data["url"]),
                ("label", row.data["label"]),
                ("adddate", render.vendor_datetime(row.data["adddate"], zone)),
            ],
        )
        for row in store.links_of(contact.remote_id)
    ]
    return Outcome([("links", links)])


# -- changes ---------------------------------------------------------------------------------
def _identify(fields: Mapping[str, str]) -> Record:
    method = fields.get("identifymethod", "").strip()
    if method not in ("1", "2", "3"):
        raise VendorError("Invalid identifymethod")
    value = fields.get("identifyvalue", "").strip()
    if not value:
        raise VendorError("identifyvalue is required")
    if method == "1":
        if not value.isdigit():
            raise VendorError("identifyvalue must be an integer")
        contact = store.find(store.CONTACT, int(value))
        if contact is None:
            raise VendorError("Contact not found")
        return contact
    if not rules.is_email(value):
        raise VendorError("identifyvalue must be an email address")
    matches = store.contacts_by_email(value, other=method == "3")
    if not matches:
        raise VendorError("Contact not found")
    return matches[0]  # first by add date, as documented


def _action_set(fields: Mapping[str, str]) -> Record:
    action_set_id = rules.number(fields, "actionsetid")
    name = fields.get("actionsetname", "").strip()
    if action_set_id is None and not name:
        raise VendorError("actionsetid or actionsetname is required")
    if action_set_id is not None:
        found = store.find(store.ACTION_SET, action_set_id)
    else:
        found = store.action_set_by_name(name)
    if found is None:
        raise VendorError("Action Set not found")
    return found


@endpoint("RunActionSet", changes=True)
def run_action_set(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """Run an action set on the identified contact, now or at ``startdatetime``."""
    contact = _identify(fields)
    action_set = _action_set(fields)
    team_member_id = rules.number(fields, "teammemberid", default=0)
    if store.find(store.TEAM_MEMBER, team_member_id or 0) is None:
        raise VendorError("Team Member not found")
    raw_start = fields.get("startdatetime", "").strip()
    start = rules.start_time(raw_start, zone) if raw_start else datetime.now(UTC)
    if action_set.data.get("has_email_action") and not rules.is_email(
        str(contact.data.get("email", ""))
    ):
        raise VendorError("Contact does not have a valid, opted-in email address")
    store.insert(
        store.ACTION_SET_RUN,
        {
            "contactid": contact.remote_id,
            "actionsetid": action_set.remote_id,
            "teammemberid": team_member_id,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        first_id=store.RUN_ID_BASE,
    )
    return Outcome(
        [("message", "Success"), ("details", "Action Set completed")],
        effect=f"runactionset:{contact.remote_id}:{action_set.remote_id}",
        applied=True,
    )


@endpoint("AddContactLink", changes=True)
def add_contact_link(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """Add a link (url + label) to a contact; answer its id as ``sourceid``."""
    contact = _contact(fields)
    url = fields.get("url", "").strip()
    label = fields.get("label", "").strip()
    if not url:
        raise VendorError("url is required")
    if not url.startswith(("https://", "http://")):
        raise VendorError("url must start with https:// or http://")
    if not label:
        raise VendorError("label is required")
    link = store.insert(
        store.LINK,
        {
            "contactid": contact.remote_id,
            "url": url,
            "label": label,
            "adddate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        first_id=store.LINK_ID_BASE,
    )
    return Outcome(
        [("message", "Success"), ("sourceid", str(link.remote_id))],
        effect=f"addcontactlink:{contact.remote_id}:{url}",
        applied=True,
    )
