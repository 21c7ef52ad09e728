"""Hostile input: every form of the console, the admin and the login page, fuzzed.

Each form is posted (or, for search boxes and filters, fetched) with values drawn by
Hypothesis: any unicode text (control characters and NUL included), very long strings,
right-to-left marks, emoji, script tags, SQL-looking text, and values shaped like the
form's own ids and cursors (unicode digits, numbers too large for any column). Whatever
comes in, the pass criterion is:

* no server error (the test client re-raises any exception a view lets through);
* a refused form is a form page with a visible field error, and nothing was stored (the
  row counts of every table that a form can write to are unchanged);
* an accepted form stored the whole value (never cut) and nothing else;
* no submitted markup is ever echoed raw: a ``<script>`` tag sent comes back escaped.
"""

from __future__ import annotations

import operator as op
import socket
import uuid
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from axes.models import AccessAttempt
from django import forms
from django.conf import settings as django_settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils.html import escape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.selectors import targets_digest
from crmhub.connections.addresses import STRICT, address_refusal
from crmhub.connections.kinds import KINDS
from crmhub.connections.models import Connection, ConnectionChoice
from crmhub.connectors.http.guard import parse_ip
from crmhub.console.acts import act_for
from crmhub.console.forms.collect import PromptAnswerForm
from crmhub.console.forms.crmcom import MEDIA
from crmhub.contacts.matching.corrections import correction_undo
from crmhub.contacts.models import Contact, MatchCorrection, SyncRun
from tests.console.conftest import apptivo_config_read, index, make_action, remote

pytestmark = pytest.mark.django_db(databases="__all__")
# Hypothesis keeps caches on disk: in the git-ignored var/ folder, not in the checkout.
set_hypothesis_home_dir(django_settings.VAR_DIR / "test" / "hypothesis")

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,  # no example database: every run draws afresh
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
HTMX = {"HTTP_HX_REQUEST": "true"}

# -- hostile values ------------------------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
#: Markup that must never come back raw in any page.
MARKUP = (SCRIPT, '"><img src=x onerror=alert(1)>', "<svg/onload=alert(1)>")
NASTY = (
    *MARKUP,
    "' OR 1=1 --",
    "'; DROP TABLE connections_connection; --",
    '" OR ""="',
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",
    "\u200f\u200e",
    "😀👩‍👩‍👧",
    "\r\n\t\x0b\x0c\x1b\x7f",
    "\ufeff",
    "{{ 7|add:7 }}{% now 'Y' %}",
    "%s%n%x%(x)s",
    "../../../etc/passwd",
    "   ",
    "",
)
#: Values shaped like the ids, choices and cursors the forms expect.
SHAPED = (
    "1",
    "0",
    "-1",
    "²",
    "١٢",
    "1e3",
    "99999999999999999999999",
    "1-99999999999999999999999",
    "1-²",
    "-1--1",
    "2026-01-01T00:00:00+00:00_²",
    "2026-01-01T00:00:00+00:00_99999999999999999999999",
    "2026-02-30",
    "2026-01-01T25:61",
    "p²",
    "c99999999999999999999999",
    "p" + "9" * 5000,
    "2026-01-01T00:00:00+00:00_" + "9" * 5000,
    "99999999999999999999999:add_contact_link",
    "EMAIL",
    "person",
    "allclients",
)
LONG_UNITS = ("A", "é", "😀", "<", "\x00", "9", " ")


def hostile() -> st.SearchStrategy[str]:
    """Any text at all, with the classics of form abuse mixed in."""
    return st.one_of(
        st.text(max_size=40),  # any unicode but surrogates, control characters included
        st.sampled_from(NASTY),
        st.sampled_from(SHAPED),
        st.tuples(st.text(max_size=6), st.sampled_from(NASTY), st.text(max_size=6)).map("".join),
        st.builds(op.mul, st.sampled_from(LONG_UNITS), st.sampled_from([201, 256, 1001, 10_000])),
    )


def fields(names: Iterable[str], special: Mapping[str, st.SearchStrategy[str]] | None = None):  # type: ignore[no-untyped-def]
    """Return a strategy of form data: each field hostile (or ``special``), some left out."""
    special = special or {}
    return st.fixed_dictionaries(
        {}, optional={name: special.get(name, hostile()) for name in names}
    )


@st.composite
def form_data(  # type: ignore[no-untyped-def]
    draw,
    plausible: Mapping[str, st.SearchStrategy[str]],
    extra: Iterable[str] = (),
    special: Mapping[str, st.SearchStrategy[str]] | None = None,
):
    """Return form data: every field hostile (some left out), or one hostile field in a form
    filled in plausibly, so that forms are refused and accepted with hostile values in them.
    ``special`` gives a field its own hostile values.
    """
    special = special or {}
    names = [*plausible, *extra]
    if draw(st.booleans(), label="everything hostile"):
        return draw(fields(names, special), label="form")
    data = {name: draw(strategy, label=name) for name, strategy in plausible.items()}
    target = draw(st.sampled_from(names), label="hostile field")
    data[target] = draw(special.get(target, hostile()), label=target)
    return data


def plain(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[str]:
    """Printable text in any script (letters, digits, punctuation, symbols, spaces)."""
    alphabet = st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])
    return st.text(alphabet, min_size=min_size, max_size=max_size)


# -- the checks -------------------------------------------------------------------------------
def table_rows() -> dict[str, int]:
    """Return the row count of every table a form may write to."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Action,
            Attempt,
            Batch,
            Connection,
            SyncRun,
            Contact,
            MatchCorrection,
            LogEntry,
            User,
        )
    }


def page(response: Any) -> str:
    """Return the body after the checks every response must pass: no 500, no raw markup."""
    assert response.status_code < 500, response.status_code
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content).decode("utf-8", errors="replace")
    else:
        body = response.content.decode("utf-8", errors="replace")
    for markup in MARKUP:
        assert markup not in body, f"{markup!r} came back unescaped"
    return body


def echoed_fields(form_fields: Mapping[str, forms.Field]) -> list[str]:
    """Return the fields whose submitted text a re-rendered form shows back."""
    silent = (forms.Select, forms.CheckboxInput, forms.PasswordInput, forms.SelectMultiple)
    return [n for n, field in form_fields.items() if not isinstance(field.widget, silent)]


def from_context(response: Any, name: str) -> Any:
    """Return ``name`` from the context the response was rendered with (None if not captured)."""
    try:
        return response.context[name] if response.context is not None else None
    except KeyError:
        return None


def assert_refused_clearly(body: str, before: dict[str, int]) -> None:
    """A refused form: the error is shown, nothing was stored."""
    assert 'class="errorlist' in body or 'class="errornote' in body, "no error is shown"
    assert table_rows() == before, "a refused form stored something"


def assert_echo_escaped(body: str, data: Mapping[str, Any], names: Iterable[str], prefix=""):  # type: ignore[no-untyped-def]
    """Each echoed field that carried a script tag shows it escaped (so it was echoed)."""
    for name in names:
        if SCRIPT in str(data.get(prefix + name, "")):
            assert escape(SCRIPT) in body, f"{name}: the value sent is not shown back"


def text_fields(form_fields: Mapping[str, forms.Field]) -> list[str]:
    """Return the plain text fields (stored as typed, whereas dates or numbers are converted)."""
    return [name for name, field in form_fields.items() if type(field) is forms.CharField]


def assert_kept_whole(stored: Mapping[str, Any], data: Mapping[str, Any], names: Iterable[str]):  # type: ignore[no-untyped-def]
    """Each text value stored is the value sent, trimmed like a form trims it, never cut."""
    for name in names:
        if isinstance(stored.get(name), str) and name in data:
            value = stored[name]
            assert value.casefold() == str(data[name]).strip().casefold(), (name, value)


# -- the data the forms act on -----------------------------------------------------------------
PROMPT = {
    "prompt_id": "p-1",
    "message": "Promise to pay?",
    "fields": [
        {"name": "reference", "label": "Reference"},
        {"name": "outcome", "choices": ["PAID", "PROMISED"]},
        {"name": "promise_date", "type": "date", "required": False},
        {"name": "amount", "type": "number", "required": False},
        {"name": "count", "type": "integer", "required": False},
        {"name": "confirm", "type": "confirm"},
    ],
}


@pytest.fixture
def world(db, operator, connections, ann):  # type: ignore[no-untyped-def]
    """One connection per CRM, Ann Lee in each, Apptivo choices, a plan waiting for Ann's answer."""
    contacts = ann
    apptivo_config_read(connections["apptivo"])
    waiting = make_action(
        connections["collect"],
        "run_plan",
        contact=contacts["collect"],
        state=Action.State.NEEDS_INPUT,
        user=operator,
        params={"plan": "REV", "contact_remote_id": "debtor:77"},
        prompt=PROMPT,
    )
    (lone,) = index(connections["apptivo"], [remote("9100", "Bea", "Roy", email="bea@example.com")])
    return SimpleNamespace(connections=connections, contacts=contacts, waiting=waiting, lone=lone)


# -- the act forms (one Action each) ---------------------------------------------------------
#: (kind, operation, on a contact or a connection, its fields, plausible values)
ACTS = [
    (
        "allclients",
        "run_action_set",
        "contact",
        {
            "action_set_id": st.just(""),
            "action_set_name": st.sampled_from(["Welcome", f"Welcome {SCRIPT}"]),
            "identify_method": st.just("1"),
            "identify_value": st.just(""),
            "team_member_id": st.sampled_from(["", "0", "7"]),
            "start_at": st.sampled_from(["", "2027-04-15T10:00"]),
        },
    ),
    (
        "allclients",
        "add_contact_link",
        "contact",
        {
            "url": st.sampled_from(["https://example.com/a", f"https://example.com/?q={SCRIPT}"]),
            "label": plain(1, 50),
        },
    ),
    (
        "apptivo",
        "update_customer",
        "contact",
        {
            "customer_name": plain(1, 200),
            "status_id": st.sampled_from(["", "10000"]),
            "category_id": st.sampled_from(["", "27792"]),
            "email": st.sampled_from(["", "zed@example.com"]),
            "phone": st.sampled_from(["", "+1 312 555 0100"]),
            "description": plain(0, 2000),
        },
    ),
    (
        "apptivo",
        "create_customer",
        "connection",
        {
            "customer_name": plain(1, 200),
            "status_id": st.sampled_from(["", "10000"]),
            "email": st.sampled_from(["", "zed@example.com"]),
            "description": plain(0, 2000),
        },
    ),
    ("collect", "run_plan", "contact", {"plan": plain(1, 20)}),
    (
        "crmcom",
        "communication_create",
        "contact",
        {
            "template": plain(0, 100),
            "direction": st.sampled_from(["", "OUTGOING"]),
            "media": st.sampled_from(["", "EMAIL", "SMS"]),
            "to": st.sampled_from(["", "ann.lee@example.com"]),
            "subject": plain(0, 300),
            "content": plain(0, 500),
            "life_cycle_state": st.sampled_from(["DRAFT", "COMPLETED"]),
            "category": plain(0, 100),
            "notes": plain(0, 500),
        },
    ),
    ("crmcom", "communication_complete", "contact", {"communication": plain(1, 100)}),
    (
        "crmcom",
        "queue_reject",
        "connection",
        {
            "queue_entry": plain(1, 100),
            "error_code": plain(1, 50),
            "error_description": plain(1, 255),
        },
    ),
    ("crmcom", "queue_process", "connection", {"queue_entry": plain(1, 100)}),
]


@pytest.mark.parametrize(("kind", "operation", "on", "plausible"), ACTS, ids=[a[1] for a in ACTS])
@FUZZ
@given(data=st.data())
def test_act_forms(client, operator, world, kind, operation, on, plausible, data):
    client.force_login(operator)
    if on == "contact":
        url = reverse("console:contact-act", args=[world.contacts[kind].pk, operation])
    else:
        url = reverse("console:connection-act", args=[world.connections[kind].pk, operation])
    sent = data.draw(form_data(plausible, ["request_key", "in_panel"]), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    before = table_rows()

    response = client.post(url, sent, **(HTMX if htmx else {}))
    body = page(response)

    started = response.status_code == 302 or "crmhub:action-started" in response.get(
        "HX-Trigger", ""
    )
    event("accepted" if started else "refused")
    if started:
        action = Action.objects.order_by("-id").first()
        assert table_rows() == {**before, "Action": before["Action"] + 1}
        assert action is not None and action.operation == operation
        assert_kept_whole(
            action.params, sent, text_fields(act_for(kind, operation).form.base_fields)
        )
        detail = page(client.get(reverse("console:action-detail", args=[action.pk])))
        if any(SCRIPT in str(v) for v in action.params.values()):
            assert escape(SCRIPT) in detail
    else:
        assert response.status_code == 200
        assert_refused_clearly(body, before)
        assert_echo_escaped(body, sent, echoed_fields(act_for(kind, operation).form.base_fields))


@pytest.mark.parametrize(
    ("kind", "operation", "on"),
    [
        ("crmcom", "communication_complete", "contact"),
        ("crmcom", "queue_process", "connection"),
        ("crmcom", "queue_reject", "connection"),
    ],
)
@pytest.mark.parametrize("value", ["", "x" * 101, "a\x00b"])
def test_a_refused_hidden_value_is_shown_too(client, operator, world, kind, operation, on, value):
    """Acts that carry their target in a hidden field still say why they were refused."""
    client.force_login(operator)
    owner = world.contacts[kind] if on == "contact" else world.connections[kind]
    url = reverse(f"console:{on}-act", args=[owner.pk, operation])
    hidden = "communication" if on == "contact" else "queue_entry"
    data = {hidden: value, "error_code": "E1", "error_description": "Refused"}
    before = table_rows()
    body = page(client.post(url, data))
    assert_refused_clearly(body, before)
    assert f'_{hidden}_errors" role="alert"' in body  # beside the field it is about


# -- bulk acts (one Batch and its Actions) ---------------------------------------------------
@FUZZ
@given(data=st.data())
def test_bulk_form(client, operator, world, data):
    client.force_login(operator)
    allclients = world.connections["allclients"]
    ann = world.contacts["allclients"]
    plausible = {
        "act": st.just(f"{allclients.pk}:add_contact_link"),
        "pick": st.sampled_from([f"c{ann.pk}", f"p{ann.person_id}.{ann.pk}"]),
        "all": st.sampled_from(["", "1"]),
        "q": st.sampled_from(["", "Ann"]),
        "targets": st.just(targets_digest([ann.pk])),
        "url": st.sampled_from(["https://example.com/a", f"https://example.com/{SCRIPT}"]),
        "label": plain(1, 50),
    }
    sent = data.draw(form_data(plausible), label="form")
    before = table_rows()

    response = client.post(reverse("console:bulk"), sent)
    body = page(response)
    event(f"status {response.status_code}")

    if response.status_code == 302:
        batch = Batch.objects.order_by("-id").first()
        assert batch is not None and response["Location"].endswith(f"/bulk/{batch.pk}/")
        assert table_rows()["Batch"] == before["Batch"] + 1
        assert Action.objects.filter(batch=batch).count() == batch.size
        assert_kept_whole(batch.params, sent, ["url", "label"])
        page(client.get(response["Location"]))
    else:
        assert response.status_code in (200, 404)
        assert table_rows() == before
        form = from_context(response, "form")
        nobody = "nobody in the selection is in this CRM" in body  # said instead of a form
        if form is not None and form.errors and not nobody:
            assert_refused_clearly(body, before)
            assert_echo_escaped(body, sent, echoed_fields(form.fields))


@FUZZ
@given(query=fields(["all", "q", "pick", "act", "kind", "connection", "record_type", "deleted"]))
def test_bulk_steps_shown_for_any_selection(client, operator, world, query):
    client.force_login(operator)
    before = table_rows()
    page(client.get(reverse("console:bulk"), query))
    page(client.get(reverse("console:bulk"), query, **HTMX))
    assert table_rows() == before


# -- corrections of person matching (one MatchCorrection each) ----------------------------------
def _corrections_undo() -> None:
    """Undo every active correction: each example starts from what matching alone makes."""
    for correction in MatchCorrection.objects.filter(undone_at__isnull=True):
        correction_undo(correction=correction, user=None)


def _correction_checked(response: Any, sent: Mapping[str, Any], before: dict[str, int]) -> None:
    """Accepted: one correction, its reason whole; refused: the error shown, nothing stored."""
    body = page(response)
    accepted = response.status_code == 302 or "HX-Redirect" in response
    event("accepted" if accepted else "refused")
    if accepted:
        correction = MatchCorrection.objects.order_by("-id").first()
        assert correction is not None
        assert table_rows() == {**before, "MatchCorrection": before["MatchCorrection"] + 1}
        assert_kept_whole({"reason": correction.reason}, sent, ["reason"])
        target = response.get("Location") or response["HX-Redirect"]
        shown = page(client_get_follow(response, target))
        if SCRIPT in correction.reason:
            assert escape(SCRIPT) in shown
    else:
        assert response.status_code == 200
        assert_refused_clearly(body, before)
        assert_echo_escaped(body, sent, ["reason"])


def client_get_follow(response: Any, url: str) -> Any:
    return response.client.get(url, follow=True)


@FUZZ
@given(data=st.data())
def test_split_form(client, operator, world, data):
    client.force_login(operator)
    _corrections_undo()
    record = world.contacts[data.draw(st.sampled_from(["crmcom", "collect"]), label="record")]
    sent = data.draw(form_data({"reason": plain(0, 500)}), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    before = table_rows()

    response = client.post(
        reverse("console:contact-split", args=[record.pk]), sent, **(HTMX if htmx else {})
    )

    _correction_checked(response, sent, before)


@FUZZ
@given(data=st.data())
def test_join_form(client, operator, world, data):
    client.force_login(operator)
    _corrections_undo()
    lone = world.lone
    plausible = {
        "other": st.sampled_from([f"c{lone.pk}", f"c{world.contacts['crmcom'].pk}"]),
        "reason": plain(0, 500),
    }
    sent = data.draw(form_data(plausible), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    before = table_rows()

    response = client.post(
        reverse("console:contact-join", args=[world.contacts["allclients"].pk]),
        sent,
        **(HTMX if htmx else {}),
    )

    _correction_checked(response, sent, before)


@FUZZ
@given(query=fields(["join_q"]), htmx=st.booleans())
def test_join_search_box(client, operator, world, query, htmx):
    client.force_login(operator)
    before = table_rows()
    url = reverse("console:person-detail", args=[world.contacts["allclients"].person_id])
    extra = {**HTMX, "HTTP_HX_TARGET": "join-candidates"} if htmx else {}
    response = client.get(url, query, **extra)
    body = page(response)
    assert response.status_code == 200
    assert table_rows() == before
    if not htmx:
        assert_echo_escaped(body, query, ["join_q"])


# -- a Collect! plan's prompt ------------------------------------------------------------------
@FUZZ
@given(data=st.data())
def test_prompt_answer_form(client, operator, world, data):
    client.force_login(operator)
    action = world.waiting
    Action.objects.filter(pk=action.pk).update(state=Action.State.NEEDS_INPUT, answer=None)
    plausible = {
        "answer-reference": plain(1, 30),
        "answer-outcome": st.sampled_from(["PAID", "PROMISED"]),
        "answer-promise_date": st.sampled_from(["", "2027-01-31"]),
        "answer-amount": st.sampled_from(["", "12.50"]),
        "answer-count": st.sampled_from(["", "3"]),
        "answer-confirm": st.sampled_from(["", "on"]),
        "prompt_id": st.sampled_from(["", "p-1"]),
    }
    sent = data.draw(form_data(plausible), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    before = table_rows()

    response = client.post(
        reverse("console:action-answer", args=[action.pk]), sent, **(HTMX if htmx else {})
    )
    body = page(response)
    answer = Action.objects.get(pk=action.pk).answer
    event("answered" if answer is not None else "not answered")
    assert table_rows() == before
    if answer is not None:
        typed = {k.removeprefix("answer-"): v for k, v in sent.items()}
        assert_kept_whole(answer, typed, text_fields(PromptAnswerForm(prompt=PROMPT).fields))
        page(client.get(reverse("console:action-detail", args=[action.pk])))
    elif 'class="errorlist' in body:  # refused, with the reason beside the field
        fields_asked = PromptAnswerForm(prompt=PROMPT).fields
        assert_echo_escaped(body, sent, echoed_fields(fields_asked), prefix="answer-")
    else:  # a prompt id that is not the one waiting: told so, nothing stored
        assert sent.get("prompt_id") not in (None, "", "p-1")
        assert response.status_code == 302 or "not waiting" in body


YES_NO = {
    "prompt_id": "p-2",
    "message": "Delete the record?",
    "fields": [{"name": "confirm", "label": "Delete", "type": "boolean", "required": False}],
}


@FUZZ
@given(data=st.data())
def test_yes_no_prompt_answer(client, operator, world, data):
    client.force_login(operator)
    action = world.waiting
    Action.objects.filter(pk=action.pk).update(
        state=Action.State.NEEDS_INPUT, answer=None, prompt=YES_NO, error=""
    )
    plausible = {
        "answer-confirm": st.sampled_from(["yes", "no"]),
        "prompt_id": st.sampled_from(["", "p-2"]),
    }
    sent = data.draw(form_data(plausible), label="form")
    htmx = data.draw(st.booleans(), label="htmx")
    before = table_rows()

    response = client.post(
        reverse("console:action-answer", args=[action.pk]), sent, **(HTMX if htmx else {})
    )
    body = page(response)
    after = Action.objects.get(pk=action.pk)
    event(after.state if after.answer is None else "answered")
    assert table_rows() == before
    if after.answer is not None:  # only a plain "yes" is an answer
        assert sent.get("answer-confirm") == "yes" and after.answer == {"confirm": True}
    elif after.state == Action.State.CANCELLED:  # only a plain "no" cancels, in their name
        assert sent.get("answer-confirm") == "no"
        assert after.error.startswith("Cancelled by operator")
    elif 'class="errorlist' in body:
        assert sent.get("answer-confirm") not in ("yes", "no")
    else:  # a prompt id that is not the one waiting: told so, nothing stored
        assert sent.get("prompt_id") not in (None, "", "p-2")


# -- each user's profile: the zone of their times ------------------------------------------------
@FUZZ
@given(
    sent=form_data(
        {"time_zone": st.sampled_from(["", "UTC", "Asia/Tokyo", "America/Argentina/Buenos_Aires"])}
    ),
    htmx=st.booleans(),
)
def test_profile_form(client, viewer, world, sent, htmx):
    from crmhub.core.models import Profile
    from crmhub.core.times import zone_names

    client.force_login(viewer)
    Profile.objects.filter(user=viewer).delete()
    before = table_rows()
    response = client.post(reverse("console:profile"), sent, **(HTMX if htmx else {}))
    body = page(response)
    assert table_rows() == before
    stored = Profile.objects.filter(user=viewer).values_list("time_zone", flat=True).first()
    zone = sent.get("time_zone", "")
    if zone == "" or zone in zone_names():
        assert response.status_code == 302 and stored == zone
        page(client.get(reverse("console:profile")))
    else:  # refused: the reason beside the field, nothing stored
        assert response.status_code == 400 and 'class="errorlist' in body
        assert stored is None


# -- connection pages: sync mode, a read's parameters --------------------------------------------
@FUZZ
@given(sent=fields(["mode"]), htmx=st.booleans())
def test_sync_form(client, admin_user, world, sent, htmx):
    client.force_login(admin_user)
    connection = world.connections["allclients"]
    before = table_rows()
    response = client.post(
        reverse("console:connection-sync", args=[connection.pk]), sent, **(HTMX if htmx else {})
    )
    page(response)
    assert table_rows()["SyncRun"] - before["SyncRun"] in (0, 1)
    assert set(SyncRun.objects.values_list("mode", flat=True)) <= set(SyncRun.Mode.values)


@FUZZ
@given(sent=fields(["media", "request_key"]), htmx=st.booleans())
def test_queue_read_and_queue_page(client, operator, world, sent, htmx):
    client.force_login(operator)
    crmcom = world.connections["crmcom"]
    before, last = table_rows(), Action.objects.order_by("-id").values_list("id", flat=True)[0]
    url = reverse("console:connection-read", args=[crmcom.pk, "queue_list"])
    page(client.post(url, sent, **(HTMX if htmx else {})))
    made = Action.objects.filter(pk__gt=last)
    assert table_rows() == {**before, "Action": before["Action"] + len(made)}
    assert len(made) <= 1
    media = {value for value, _ in MEDIA if value}
    assert all(a.operation == "queue_list" and a.params["media"] in media for a in made)
    page(client.get(reverse("console:queue", args=[crmcom.pk]), sent))


# -- closing the loop on an unknown outcome; bulk control ---------------------------------------
@FUZZ
@given(sent=fields(["verdict", "note"], {"verdict": st.one_of(hostile(), st.sampled_from(
    ["happened", "not_happened", "dismissed"]))}), htmx=st.booleans())  # fmt: skip
def test_checked_form(client, operator, world, sent, htmx):
    client.force_login(operator)
    action = make_action(
        world.connections["allclients"], "run_action_set", state=Action.State.UNKNOWN
    )
    before = table_rows()
    url = reverse("console:action-checked", args=[action.pk])
    body = page(client.post(url, sent, **(HTMX if htmx else {})))
    action.refresh_from_db()
    event("checked" if action.checked_at else "refused")
    assert table_rows() == before  # a verdict is recorded on the action, nothing is sent
    if action.checked_at is not None:
        assert action.check_verdict in ("happened", "not_happened")
        assert action.check_verdict == sent["verdict"]
        assert_kept_whole({"note": action.check_note}, sent, ["note"])
        detail = page(client.get(reverse("console:action-detail", args=[action.pk])))
        if SCRIPT in action.check_note:
            assert escape(SCRIPT) in detail
    elif htmx:
        assert 'role="alert"' in body  # the reason is shown beside the status


@FUZZ
@given(data=st.data(), query=fields(["state", "after"]), htmx=st.booleans())
def test_batch_retry_and_results_filter(client, operator, world, data, query, htmx):
    client.force_login(operator)
    allclients, ann = world.connections["allclients"], world.contacts["allclients"]
    batch = Batch.objects.create(
        operation="add_contact_link",
        connection=allclients,
        size=1,
        params={"url": "https://example.com/a", "label": "Statement"},
    )
    params = {**batch.params, "contact_remote_id": ann.remote_id}
    make_action(
        allclients, "add_contact_link", contact=ann, state="failed", batch=batch, params=params
    )
    expected = batch_retry_digest(batch)
    targets = st.one_of(hostile(), st.just(expected))
    sent = data.draw(fields(["targets"], {"targets": targets}), label="form")
    shape = HTMX if htmx else {}
    page(client.get(reverse("console:batch-detail", args=[batch.pk]), query, **shape))
    before = table_rows()
    page(client.post(reverse("console:batch-retry", args=[batch.pk]), sent, **shape))
    retried = Batch.objects.filter(retry_of=batch).exists()
    event("retried" if retried else "refused")
    assert retried == (sent.get("targets") == expected)
    if retried:
        assert table_rows() == {
            **before,
            "Batch": before["Batch"] + 1,
            "Action": before["Action"] + 1,
        }
    else:
        assert table_rows() == before


def batch_retry_digest(batch: Batch) -> str | None:
    """Return the digest a retry of ``batch`` would need now (None: nothing left)."""
    from crmhub.actions.selectors import batch_retry_targets

    ids = [a.pk for a in batch_retry_targets(batch=batch)]
    return targets_digest(ids) if ids else None


# -- search box and filters (GET: never a write) ------------------------------------------------
@FUZZ
@given(
    query=fields(
        ["q", "kind", "connection", "record_type", "deleted", "after"],
        {"q": st.one_of(hostile(), st.sampled_from(["Ann", f"Ann {SCRIPT}", SCRIPT]))},
    ),
    htmx=st.booleans(),
)
def test_contact_search_box_and_filters(client, viewer, world, query, htmx):
    client.force_login(viewer)
    before = table_rows()
    response = client.get(reverse("console:contact-list"), query, **(HTMX if htmx else {}))
    body = page(response)
    assert response.status_code == 200
    assert table_rows() == before
    if not htmx:
        assert_echo_escaped(body, query, ["q"])


@FUZZ
@given(
    query=fields(
        ["state", "kind", "operation", "connection", "user", "since", "until", "after", "open"],
        {"user": st.one_of(hostile(), st.sampled_from(["operator", SCRIPT]))},
    ),
    htmx=st.booleans(),
)
def test_action_list_filters(client, viewer, world, query, htmx):
    client.force_login(viewer)
    before = table_rows()
    response = client.get(reverse("console:action-list"), query, **(HTMX if htmx else {}))
    page(response)
    assert response.status_code == 200
    assert table_rows() == before


# Each shaped value on each page, every time (the fuzzing above draws them only by luck).
SHAPED_GETS = (
    [("console:contact-list", name) for name in ("after", "connection", "q")]
    + [("console:action-list", name) for name in ("after", "connection", "user", "since")]
    + [("console:bulk", name) for name in ("pick", "act", "connection")]
)


@pytest.mark.parametrize(("url_name", "param"), SHAPED_GETS)
def test_every_shaped_value_in_every_parameter(client, operator, world, url_name, param):
    client.force_login(operator)
    before = table_rows()
    for value in (*SHAPED, "\x00", "a\x00b", SCRIPT):
        extra = {"all": "1"} if param in ("q", "connection") and "bulk" in url_name else {}
        response = client.get(reverse(url_name), {param: value, **extra})
        page(response)
        assert response.status_code == 200, (param, value)
    assert table_rows() == before


# -- the admin: connection forms per kind, change-list searches ------------------------------
def _fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list:
    """Resolve like the system does, without the network: numeric hosts only."""
    if isinstance(host, str):
        host.encode("idna")  # what socket.getaddrinfo does first (UnicodeError on bad names)
    ip = parse_ip(str(host))
    if ip is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    return [(family, socket.SOCK_STREAM, 6, "", (str(ip), int(port or 0)))]


def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve host names at save time (the address policy) and connect time without DNS."""

    def resolve(host: str, port: int) -> list[str]:
        return [str(info[4][0]) for info in _fake_getaddrinfo(host, port)]

    monkeypatch.setattr("crmhub.connections.addresses.resolve_host", resolve)
    monkeypatch.setattr("crmhub.connectors.http.guard.socket.getaddrinfo", _fake_getaddrinfo)


BASE_URLS = (
    "https://93.184.215.14/api/2/",
    "http://[::1",
    "http://[zz]/",
    "http://93.184.215.14:abc/",
    "https://93.184.215.14:99999/",
    "https://a..b/api/",
    "https://" + "x" * 70 + ".com/",
    "https://exa\u202emple.com/",
    "https://user:pw@93.184.215.14/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
)


@pytest.mark.parametrize("kind", sorted(KINDS))
@FUZZ
@given(data=st.data())
def test_admin_connection_form(client, superuser, world, monkeypatch, kind, data):
    _no_dns(monkeypatch)
    client.force_login(superuser)
    info = KINDS[kind]
    plausible: dict[str, st.SearchStrategy[str]] = {
        "name": plain(1, 100),
        "base_url": plain(0, 30).map(lambda path: "https://93.184.215.14/" + path.strip()),
        "country": st.sampled_from(["US", "gb"]),
        "rate_limit": st.sampled_from(["5", "0.5"]),
        "daily_quota": st.sampled_from(["", "1000"]),
        "sync_interval_minutes": st.just("15"),
        "full_sync_interval_hours": st.just("24"),
        "is_active": st.just("on"),
        "allow_private_network": st.sampled_from(["", "on"]),
    }
    for spec in info.fields:
        name = ("secret_" if spec.secret else "setting_") + spec.name
        plausible[name] = st.just(
            {"account_id": "12345", "time_zone": "America/Chicago", "release": "14"}.get(
                spec.name, spec.default or "value-1"
            )
        )
    bad_urls = {"base_url": st.one_of(hostile(), st.sampled_from(BASE_URLS))}
    sent = {"kind": kind, **data.draw(form_data(plausible, special=bad_urls), label="form")}
    before = table_rows()

    url = reverse("admin:connections_connection_add") + f"?kind={kind}"
    response = client.post(url, sent)
    body = page(response)
    event("saved" if response.status_code == 302 else "refused")

    if response.status_code == 302:
        connection = Connection.objects.order_by("-id").first()
        assert connection is not None
        assert table_rows()["Connection"] == before["Connection"] + 1
        assert connection.name == sent["name"].strip()
        assert connection.base_url == sent["base_url"].strip()
        secrets = {s.name for s in info.secret_fields}
        assert set(connection.get_secrets()) == secrets
        as_typed = {s.name: sent.get("setting_" + s.name, "") for s in info.setting_fields}
        unchanged = [s.name for s in info.setting_fields if s.clean is None]
        assert_kept_whole(connection.settings, as_typed, unchanged)
        page(client.get(reverse("admin:connections_connection_change", args=[connection.pk])))
        Connection.objects.filter(pk=connection.pk).delete()  # the next example starts clean
    else:
        assert response.status_code == 200
        assert_refused_clearly(body, before)
        form = response.context["adminform"].form
        assert form.errors
        assert_echo_escaped(body, sent, echoed_fields(form.fields))


def valid_connection(kind: str) -> dict[str, str]:
    data = {
        "kind": kind,
        "name": "Shaped",
        "base_url": "https://93.184.215.14/api/",
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
    }
    for spec in KINDS[kind].fields:
        name = ("secret_" if spec.secret else "setting_") + spec.name
        data[name] = {"account_id": "12345", "time_zone": "America/Chicago"}.get(
            spec.name, spec.default or "value-1"
        )
    return data


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_admin_connection_form_with_every_shaped_value(client, superuser, monkeypatch, kind):
    """Every shaped value in each setting of the kind, every odd base URL: each time."""
    _no_dns(monkeypatch)
    client.force_login(superuser)
    url = reverse("admin:connections_connection_add") + f"?kind={kind}"
    assert client.post(url, valid_connection(kind)).status_code == 302  # the baseline saves
    Connection.objects.all().delete()
    trials = [("base_url", value) for value in BASE_URLS[1:]] + [
        ("setting_" + spec.name, value)
        for spec in KINDS[kind].setting_fields
        for value in (*SHAPED, "\x00", SCRIPT)
    ]
    for name, value in trials:
        before = table_rows()
        response = client.post(url, {**valid_connection(kind), name: value})
        body = page(response)
        if response.status_code == 302:
            Connection.objects.all().delete()
        else:
            assert response.status_code == 200, (name, value)
            assert name in response.context["adminform"].form.errors, (name, value)
            assert_refused_clearly(body, before)


#: Where an admin (not a superuser) might point a connection a superuser allowed inside.
INSIDE = (
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://127.0.0.1:6379/",
    "http://[::1]:8000/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://10.1.2.3/",
    "http://172.16.0.9/",
    "http://192.168.0.1/",
    "http://localhost/",
    "http://[fe80::1]/",
    "http://127.0.0.1:8000/admin/",
)
PRIVATE_ALLOWED_URL = "http://127.0.0.1:8000/sandbox/allclients/api/2/"
OLD_KEY = "stored-key-" + "f" * 21


@FUZZ
@given(data=st.data())
def test_admin_connection_change_by_an_admin(client, admin_user, monkeypatch, data):
    """An admin edits a connection a superuser allowed on private networks.

    Whatever is sent: an address inside is refused, a move elsewhere keeps no stored
    secret and no superuser switch, and an unchanged address keeps both.
    """
    _no_dns(monkeypatch)
    Connection.objects.all().delete()
    connection = Connection(
        name="Sandbox",
        kind="allclients",
        base_url=PRIVATE_ALLOWED_URL,
        allow_private_network=True,
        allow_link_local=True,
        settings={"account_id": "1001", "time_zone": "America/Chicago"},
    )
    connection.set_secrets({"api_key": OLD_KEY})
    connection.save()
    client.force_login(admin_user)
    plausible: dict[str, st.SearchStrategy[str]] = {
        "name": st.just("Sandbox"),
        "base_url": st.sampled_from([PRIVATE_ALLOWED_URL, *INSIDE, "https://93.184.215.14/api/2/"]),
        "country": st.just("US"),
        "rate_limit": st.just("5"),
        "sync_interval_minutes": st.just("15"),
        "full_sync_interval_hours": st.just("24"),
        "is_active": st.just("on"),
        "setting_account_id": st.just("1001"),
        "setting_time_zone": st.just("America/Chicago"),
        "secret_api_key": st.sampled_from(["", "typed-key-" + "9" * 22]),
        "allow_private_network": st.sampled_from(["", "on"]),
        "allow_link_local": st.sampled_from(["", "on"]),
    }
    bad_urls = {"base_url": st.one_of(hostile(), st.sampled_from(BASE_URLS + INSIDE))}
    sent = data.draw(form_data(plausible, special=bad_urls), label="form")
    before = table_rows()
    stored = Connection.objects.values().get(pk=connection.pk)

    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = client.post(url, sent)
    body = page(response)
    fresh = Connection.objects.get(pk=connection.pk)
    event("saved" if response.status_code == 302 else "refused")

    if response.status_code == 302:
        assert fresh.base_url == str(sent["base_url"]).strip()
        if fresh.base_url == PRIVATE_ALLOWED_URL:  # unchanged: the approval holds
            assert (fresh.allow_private_network, fresh.allow_link_local) == (True, True)
            assert fresh.get_secrets()["api_key"] in (OLD_KEY, sent.get("secret_api_key"))
        else:  # moved: only public addresses, no switch, no stored secret
            assert address_refusal(fresh.base_url, policy=STRICT) == ""
            assert (fresh.allow_private_network, fresh.allow_link_local) == (False, False)
            assert fresh.get_secrets() == {"api_key": sent["secret_api_key"].strip()}
    else:
        assert response.status_code == 200
        assert_refused_clearly(body, before)
        assert Connection.objects.values().get(pk=connection.pk) == stored


@FUZZ
@given(sent=fields(["post", "is_active", "csrfmiddlewaretoken", "name", "allow_link_local"]))
def test_deactivate_forms(client, superuser, world, sent):
    """The deactivate buttons take no input: whatever comes, only ``is_active`` changes."""
    client.force_login(superuser)
    connection = world.connections["allclients"]
    user = User.objects.create_user("fuzzed-" + uuid.uuid4().hex[:8])
    for name, row in (("connections_connection", connection), ("auth_user", user)):
        stored = type(row).objects.values().get(pk=row.pk)
        response = client.post(reverse(f"admin:{name}_deactivate", args=[row.pk]), sent)
        page(response)
        assert response.status_code == 302
        now = type(row).objects.values().get(pk=row.pk)
        assert now.pop("is_active") is False
        changed = {k for k, v in now.items() if stored[k] != v} - {"updated_at"}
        assert changed == set(), changed
    Connection.objects.filter(pk=connection.pk).update(is_active=True)
    user.delete()


ADMIN_LISTS = (
    "admin:connections_connection_changelist",
    "admin:actions_action_changelist",
    "admin:actions_batch_changelist",
    "admin:contacts_contact_changelist",
    "admin:contacts_syncrun_changelist",
    "admin:auth_user_changelist",
)


@pytest.mark.parametrize("name", ADMIN_LISTS)
@FUZZ
@given(query=fields(["q", "o", "p"], {"q": st.one_of(hostile(), st.sampled_from([SCRIPT, "Ann"]))}))
def test_admin_change_list_search(client, superuser, world, name, query):
    client.force_login(superuser)
    before = table_rows()
    response = client.get(reverse(name), query)
    body = page(response)
    assert table_rows() == before
    changelist = from_context(response, "cl")
    if response.status_code == 200 and changelist is not None and changelist.search_fields:
        assert_echo_escaped(body, query, ["q"])


# -- signing in (the console's page and the admin's) -------------------------------------------
def assert_sign_in_refused(response: Any, sent: Mapping[str, Any], users: int) -> None:
    body = page(response)
    assert User.objects.count() == users
    assert "_auth_user_id" not in response.wsgi_request.session, "a hostile sign-in got in"
    if response.status_code == 200:
        assert 'role="alert"' in body or 'class="errornote"' in body  # the error is shown
        assert_echo_escaped(body, sent, ["username"])
    else:
        assert response.status_code == 429  # locked out after repeated failures (axes)


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
@FUZZ
@given(
    sent=fields(
        ["username", "password", "next"], {"username": st.one_of(hostile(), st.just("operator"))}
    )
)
def test_login_forms(client, operator, url_name, sent):
    users = User.objects.count()
    response = client.post(reverse(url_name), sent)
    event(f"status {response.status_code}")
    assert_sign_in_refused(response, sent, users)


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
@pytest.mark.parametrize("length", [150, 151, 255, 256, 10_000])
def test_login_forms_with_over_long_user_names(client, operator, url_name, length):
    """A name longer than any user's is refused by the form: no sign-in is even tried."""
    sent = {"username": "u" * length, "password": "wrong"}
    users, attempts = User.objects.count(), AccessAttempt.objects.count()
    assert_sign_in_refused(client.post(reverse(url_name), sent), sent, users)
    tried = AccessAttempt.objects.count() - attempts
    assert tried == (1 if length <= User._meta.get_field("username").max_length else 0)


# -- the checks themselves can fail --------------------------------------------------------------
def test_the_checks_catch_raw_markup_and_writes(world):
    class Fake:
        status_code = 200
        content = f"<p>{SCRIPT}</p>".encode()

    with pytest.raises(AssertionError, match="unescaped"):
        page(Fake())
    before = table_rows()
    Batch.objects.create(operation="x", connection=world.connections["allclients"])
    with pytest.raises(AssertionError, match="stored something"):
        assert_refused_clearly('<ul class="errorlist">', before)
    with pytest.raises(AssertionError, match="not shown back"):
        assert_echo_escaped("<p>nothing</p>", {"label": SCRIPT}, ["label"])
    with pytest.raises(AssertionError):
        assert_kept_whole({"label": "cut"}, {"label": "cut short"}, ["label"])


@FUZZ
@given(data=st.data())
def test_admin_choice_list_rows(client, superuser, monkeypatch, data):
    """The choice lists kept on a connection (its inline rows): stored whole, or refused."""
    _no_dns(monkeypatch)
    Connection.objects.all().delete()
    connection = Connection(
        name="Marketing",
        kind="allclients",
        base_url="https://93.184.215.14/api/2/",
        settings={"account_id": "1001", "time_zone": "America/Chicago"},
    )
    connection.set_secrets({"api_key": OLD_KEY})
    connection.save()
    client.force_login(superuser)
    row = {
        "choices-0-list_name": st.sampled_from(["action_set", "template", "plan"]),
        "choices-0-value": plain(1, 200),
        "choices-0-note": plain(0, 200),
    }
    sent = {
        "name": "Marketing",
        "base_url": "https://93.184.215.14/api/2/",
        "country": "US",
        "rate_limit": "5",
        "sync_interval_minutes": "15",
        "full_sync_interval_hours": "24",
        "is_active": "on",
        "setting_account_id": "1001",
        "setting_time_zone": "America/Chicago",
        "choices-TOTAL_FORMS": "1",
        "choices-INITIAL_FORMS": "0",
        **data.draw(form_data(row), label="row"),
    }
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = client.post(url, sent)
    body = page(response)
    kept = list(ConnectionChoice.objects.filter(connection=connection))
    event("saved" if kept else "refused")
    if kept:
        (choice,) = kept
        assert response.status_code == 302 and choice.list_name == "action_set"
        assert_kept_whole(
            {"value": choice.value, "note": choice.note},
            {"value": sent["choices-0-value"], "note": sent.get("choices-0-note", "")},
            ["value", "note"],
        )
    elif response.status_code == 200:
        assert 'class="errorlist' in body or 'class="errornote' in body
    else:  # an empty row is no row: the connection is saved, no value kept
        assert response.status_code == 302
        assert not str(sent.get("choices-0-value", "")).strip()
