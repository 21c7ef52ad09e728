"""The simulated AllClients API: ``POST <Method>.aspx`` form posts answering XML or JSON.

Every endpoint injects the configured faults first, checks the account id and key like the
vendor (a wrong one answers ``<results><error>Authentication failed</error></results>``
with HTTP 200), refuses a field the method does not know, writes one ledger row per call
(never the key), and applies a change in the same transaction as its ledger row, so a test
can prove it happened at most once. Answers are compact XML unless the ``xml_indent``
fault asks for indented XML.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from itertools import islice
from zoneinfo import ZoneInfo

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from crmhub.sandbox import faults, ledger
from crmhub.sandbox.allclients import filters, render, rules, store
from crmhub.sandbox.allclients.assumptions import ASSUMPTIONS
from crmhub.sandbox.allclients.render import Node
from crmhub.sandbox.allclients.rules import VendorError, refuse
from crmhub.sandbox.models import Fault, Record

KIND = store.KIND
CONTACT_FIELDS = (
    "firstname",
    "lastname",
    "company",
    "email",
    "otheremail",
    *ASSUMPTIONS.phone_fields,
    "adddate",
    "editdate",
)
DATE_FIELDS = frozenset({"adddate", "editdate"})
#: The documented form fields of every method (GetContacts' are in ``filters``).
COMMON_FIELDS = frozenset({"accountid", "apikey", "response_type"})
FIELDS = {
    "GetCategories": COMMON_FIELDS,
    "GetContactLinks": COMMON_FIELDS | {"contactid"},
    "RunActionSet": COMMON_FIELDS
    | {
        "teammemberid",
        "identifymethod",
        "identifyvalue",
        "actionsetid",
        "actionsetname",
        "startdatetime",
    },
    "AddContactLink": COMMON_FIELDS | {"contactid", "url", "label"},
}


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
            fault = faults.current(KIND)  # read once: every check below uses these settings
            injected = faults.inject(KIND, xml=not as_json, fault=fault)
            if injected is not None:
                ledger.record(KIND, operation, fields, status=injected.status_code)
                return injected
            if operation in ASSUMPTIONS.undocumented_methods and faults.hides_undocumented(
                KIND, fault=fault
            ):
                ledger.record(KIND, operation, fields, status=404)
                return HttpResponse(
                    ASSUMPTIONS.missing_page, status=404, content_type="text/html; charset=utf-8"
                )
            if request.method != "POST":
                ledger.record(KIND, operation, fields, status=ASSUMPTIONS.get_status)
                return HttpResponseNotAllowed(["POST"])
            return _handle(
                operation, handler, fields, as_json=as_json, changes=changes, fault=fault
            )

        return view

    return wrap


def _handle(
    operation: str,
    handler: Handler,
    fields: dict[str, str],
    *,
    as_json: bool,
    changes: bool,
    fault: Fault | None,
) -> HttpResponse:
    credentials = store.account_credentials()
    indent = faults.indents_xml(KIND, fault=fault)
    try:
        rules.authenticate(fields, credentials)
        if operation in FIELDS:
            rules.check_fields(fields, FIELDS[operation])
        zone = ZoneInfo(credentials.get("time_zone") or ASSUMPTIONS.default_time_zone)
        with transaction.atomic(using="sandbox") if changes else nullcontext():
            outcome = handler(rules.trim(fields), zone)
            ledger.record(KIND, operation, fields, effect=outcome.effect, applied=outcome.applied)
    except VendorError as exc:
        ledger.record(KIND, operation, fields)
        return render.error(exc.text, as_json=as_json, indent=indent)
    if outcome.applied:
        faults.after_apply(KIND, fault=fault)
    return render.answer(outcome.nodes, as_json=as_json, indent=indent)


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
    """Return the contacts a GetContacts call asks for: filtered, then one page of them.

    ``pagingsize`` is served as asked; a call without it is delayed (documented) and then
    answers every match. Only an answer past ``max_contacts_per_answer`` (an assumption)
    is refused, with an error naming the limit: never cut without a word.
    """
    limit = ASSUMPTIONS.max_contacts_per_answer
    size = rules.number(fields, "pagingsize") or 0
    offset = rules.number(fields, "pagingoffset", default=0) or 0
    found = filters.contact_filter(fields)
    if size > limit:
        raise refuse("too_many_contacts", limit=limit)
    if size < 1:
        time.sleep(ASSUMPTIONS.unpaged_delay_seconds)
    if found.empty:
        if size < 1:
            if store.rows(store.CONTACT).count() - offset > limit:
                raise refuse("too_many_contacts", limit=limit)
            size = limit
        return store.contacts_page(offset=offset, size=size)
    matches = list(islice(filters.matching(found), offset, offset + (size or limit + 1)))
    if len(matches) > limit:
        raise refuse("too_many_contacts", limit=limit)
    return matches


@endpoint("GetContacts")
def get_contacts(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """List the contacts that pass the filters, in contactid order, a page at a time."""
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
        raise refuse("contact_required")
    contact = store.find(store.CONTACT, contact_id)
    if contact is None:
        raise refuse("contact_not_found")
    return contact


@endpoint("GetContactLinks")
def get_contact_links(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """List one contact's links (an assumption: no document describes this method)."""
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
        raise refuse("invalid_identify_method")
    value = fields.get("identifyvalue", "").strip()
    if not value:
        raise refuse("identify_value_required")
    if method == "1":
        if not value.isdigit():
            raise refuse("identify_value_integer")
        contact = store.find(store.CONTACT, int(value))
        if contact is None:
            raise refuse("contact_not_found")
        return contact
    if not rules.is_email(value):
        raise refuse("identify_value_email")
    matches = store.contacts_by_email(value, other=method == "3")
    if not matches:
        raise refuse("contact_not_found")
    return matches[0]  # first by add date, as documented


def _action_set(fields: Mapping[str, str]) -> Record:
    action_set_id = rules.number(fields, "actionsetid")
    name = fields.get("actionsetname", "").strip()
    if action_set_id is None and not name:
        raise refuse("action_set_required")
    if action_set_id is not None:
        found = store.find(store.ACTION_SET, action_set_id)
    else:
        found = store.action_set_by_name(name)
    if found is None:
        raise refuse("action_set_not_found")
    return found


@endpoint("RunActionSet", changes=True)
def run_action_set(fields: Mapping[str, str], zone: ZoneInfo) -> Outcome:
    """Run an action set on the identified contact, now or at ``startdatetime``."""
    contact = _identify(fields)
    action_set = _action_set(fields)
    team_member_id = rules.number(fields, "teammemberid", default=0)
    if store.find(store.TEAM_MEMBER, team_member_id or 0) is None:
        raise refuse("team_member_not_found")
    raw_start = fields.get("startdatetime", "").strip()
    start = rules.start_time(raw_start) if raw_start else datetime.now(UTC)
    if action_set.data.get("has_email_action") and not store.can_email(contact):
        raise refuse("not_opted_in")
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
        raise refuse("url_required")
    if not url.startswith(("https://", "http://")):
        raise refuse("url_scheme")
    if not label:
        raise refuse("label_required")
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
