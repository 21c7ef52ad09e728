"""The person page's cheaper parts write what Django's own machinery wrote before them.

URLs reversed once per pattern (``paths.reverse_cached`` behind the console's ``{% url %}``),
blank split forms written once (``blank_reason``), the actions list without its JSON and
contacts joined again, corrections asked for only when there are some.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection as db
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse, set_script_prefix

from crmhub.actions import selectors as action_selectors
from crmhub.actions.models import Action
from crmhub.console import paths
from crmhub.console.forms.matching import CorrectionForm, blank_reason
from crmhub.contacts.matching.corrections import person_split
from crmhub.contacts.matching.evidence import corrections_of
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db

CASES = [
    ("console:dashboard", []),
    ("console:person-detail", [0]),
    ("console:person-detail", [7]),
    ("console:contact-detail", [123456789012]),
    ("console:contact-act", [5, "run_action_set"]),
    ("console:contact-act", [918273640, "run_action_set"]),
    ("console:contact-read", [41, "communications_list"]),
    ("console:connection-act", [3, "create_customer"]),
    ("console:action-detail", [99]),
    ("console:batch-failures", [12]),
]


@pytest.fixture(autouse=True)
def _fresh_patterns():  # type: ignore[no-untyped-def]
    paths.forget()
    yield
    paths.forget()
    set_script_prefix("/")


@pytest.mark.parametrize(("name", "args"), CASES)
def test_a_cached_reversal_is_reverse(name, args):
    for _ in range(2):  # learnt, then from the cache
        assert paths.reverse_cached(name, args) == reverse(name, args=args)
    other = [a + 1 if type(a) is int else a for a in args]
    assert paths.reverse_cached(name, other) == reverse(name, args=other)


def test_the_script_prefix_is_part_of_the_pattern():
    first = paths.reverse_cached("console:person-detail", [3])
    set_script_prefix("/crm/")
    assert paths.reverse_cached("console:person-detail", [3]) == "/crm" + first
    assert reverse("console:person-detail", args=[3]) == "/crm" + first


@pytest.mark.parametrize(
    "args",
    [[-1], [True], ["12"], [1.0], ["not/a/slug"]],
    ids=["negative", "bool", "digits as text", "float", "bad text"],
)
def test_what_is_not_a_plain_id_is_reversed_or_refused_as_reverse_does(args):
    name = "console:person-detail" if len(args) == 1 and args != ["not/a/slug"] else ""
    if not name:
        with pytest.raises(NoReverseMatch):
            paths.reverse_cached("console:contact-act", [1, *args])
        with pytest.raises(NoReverseMatch):
            paths.reverse_cached("console:contact-act", [1, *args])  # never kept
        return
    try:
        expected = reverse(name, args=args)
    except NoReverseMatch:
        with pytest.raises(NoReverseMatch):
            paths.reverse_cached(name, args)
    else:
        assert paths.reverse_cached(name, args) == expected


def test_the_console_url_tag_writes_what_djangos_writes():
    names = "{% url 'console:contact-act' pk op %}|{% url 'console:person-detail' pk as p %}{{ p }}"
    missing = "{% url 'console:contact-act' pk 'no/such' as gone %}[{{ gone }}]"
    keyword = "{% url 'console:person-detail' pk=pk %}"
    context = {"pk": 42, "op": "run_action_set"}
    for text in (names, missing, keyword):
        ours = Template("{% load console %}" + text).render(Context(context))
        django = Template(text).render(Context(context))
        assert ours == django
    ours = Template("{% load console %}" + names).render(Context(context))
    assert ours == "/contacts/42/act/run_action_set/|/people/42/"
    with pytest.raises(NoReverseMatch):
        Template("{% load console %}{% url 'console:contact-act' pk 'no/such' %}").render(
            Context(context)
        )


def test_a_blank_split_reason_is_the_forms_own_rendering():
    for prefix in ("split-5-", "split-123456-"):
        field = CorrectionForm(auto_id=f"{prefix}%s")["reason"]
        assert blank_reason(id_prefix=prefix) == f"{field.label_tag()}{field}"


def _forms(html: str) -> list[str]:
    return re.findall(r"<form .*?</form>", html, flags=re.S)


def test_the_person_page_keeps_its_links_forms_and_actions(
    client, operator, ann, connections, django_assert_max_num_queries
):
    client.force_login(operator)
    run = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        user=operator,
        params={"action_set": "9"},
        result={"data": {"big": 1}},
    )
    failed = make_action(
        connections["collect"], "run_plan", contact=ann["collect"], state=Action.State.FAILED
    )
    url = reverse("console:person-detail", args=[ann["allclients"].person_id])
    html = client.get(url).content.decode()
    for action in (run, failed):
        assert f'href="/actions/{action.pk}/"' in html
        assert f'href="/contacts/{action.contact_id}/">Ann ' in html
    assert f"</time> · {operator.get_username()}</td>" in html
    for record in ann.values():
        prefix = f"split-{record.pk}-"
        assert f'action="/contacts/{record.pk}/split/"' in html
        field = CorrectionForm(auto_id=f"{prefix}%s")["reason"]
        assert f"{field.label_tag()}{field}" in html
        assert f'href="/connections/{record.connection_id}/"' in html
    acts = [f'/contacts/{ann["allclients"].pk}/act/run_action_set/',
            f'/contacts/{ann["apptivo"].pk}/act/delete_customer/',
            f'/contacts/{ann["crmcom"].pk}/reads/communications_list/',
            f'/contacts/{ann["allclients"].pk}/reads/get_contact_links/']  # fmt: skip
    for act in acts:
        assert act in html
    posts = [form for form in _forms(html) if 'method="post"' in form]
    assert len(posts) >= 6
    assert all('name="csrfmiddlewaretoken"' in form for form in posts)


def test_a_refused_split_is_shown_with_its_error_beside_blank_ones(client, operator, ann):
    client.force_login(operator)
    record = ann["collect"]
    response = client.post(reverse("console:contact-split", args=[record.pk]),
                           {"reason": "x" * 501}, HTTP_HX_REQUEST="true")  # fmt: skip
    html = response.content.decode()
    refused = CorrectionForm({"reason": "x" * 501})
    assert not refused.is_valid()
    assert f"{refused['reason'].label_tag()}{refused['reason']}" in html
    assert "at most 500 characters" in html
    assert f'id="split-{record.pk}-reason"' not in html  # the refused form, not a blank one
    blank = ann["apptivo"]
    assert str(blank_reason(id_prefix=f"split-{blank.pk}-")) in html


def test_the_actions_list_reads_no_json_and_joins_no_contact(ann, connections, operator):
    run = make_action(connections["allclients"], "run_action_set", contact=ann["allclients"],
                      user=operator, result={"data": {"big": 1}})  # fmt: skip
    make_action(connections["apptivo"], "get_config", contact=ann["apptivo"], safe=True)
    records = list(ann.values())
    with CaptureQueriesContext(db) as captured:
        actions = action_selectors.actions_of_contacts(contacts=records)
    assert [a.pk for a in actions] == [run.pk]
    sql = captured[0]["sql"]
    assert '"result"' not in sql and '"params"' not in sql
    assert "contacts_contact" not in sql
    with CaptureQueriesContext(db) as used:
        (action,) = actions
        shown = (action.operation, action.state, action.connection.kind, action.connection.name,
                 action.contact.display_name, action.requested_by.get_username(),
                 action.created_at, action.updated_at, action.requested_by_id)  # fmt: skip
    assert len(used) == 0, used.captured_queries
    assert action.contact is ann["allclients"]
    assert shown[-1] == operator.pk
    whole = action_selectors.actions_whole(actions=actions)
    assert whole[0].result == {"data": {"big": 1}}


def test_a_prompt_on_the_person_page_is_shown_whole(client, operator, ann, connections):
    client.force_login(operator)
    make_action(connections["collect"], "run_plan", contact=ann["collect"], user=operator,
                state=Action.State.NEEDS_INPUT, params={"plan": "DEL"},
                prompt={"prompt_id": "p1", "message": "Delete debtor 77?",
                        "fields": [{"name": "confirm", "label": "Delete", "type": "boolean",
                                    "required": False}]})  # fmt: skip
    url = reverse("console:person-detail", args=[ann["collect"].person_id])
    html = client.get(url).content.decode()
    assert "prompt-card" in html
    assert "Delete debtor 77?" in html


def test_corrections_are_one_query_with_what_the_page_shows(ann, operator):
    ids = [record.pk for record in ann.values()]
    with CaptureQueriesContext(db) as captured:
        assert corrections_of(contact_ids=ids) == []
    assert len(captured) == 1
    person_split(contact=ann["collect"], user=operator, reason="not her")
    with CaptureQueriesContext(db) as captured:
        (found,) = corrections_of(contact_ids=ids)
        correction = found.correction
        shown = [correction.pk, correction.kind, correction.get_kind_display(), correction.reason,
                 correction.created_at, correction.undone_at, correction.created_by.get_username(),
                 correction.undone_by]  # fmt: skip
        for member in found.members:
            shown += [member.side, member.contact_id, member.contact.display_name,
                      member.contact.remote_id, member.contact.connection.kind]  # fmt: skip
    assert len(captured) == 1, captured.captured_queries
    assert shown[3:7:3] == ["not her", operator.get_username()]
    assert ann["collect"].pk in shown


@pytest.mark.parametrize("page", ["console:action-list", "console:dashboard"])
def test_the_action_tables_read_no_json_and_no_field_later(
    client, operator, ann, connections, page
):
    client.force_login(operator)
    for state in (Action.State.FAILED, Action.State.SUCCEEDED, Action.State.NEEDS_INPUT):
        make_action(connections["apptivo"], "update_customer", contact=ann["apptivo"],
                    user=operator, state=state, error="it broke" if state == "failed" else "",
                    params={"customer_name": "Ann"}, result={"data": {"big": 1}})  # fmt: skip
    with CaptureQueriesContext(db) as captured:
        html = client.get(reverse(page)).content.decode()
    listing = [q["sql"] for q in captured if '"actions_action"."operation"' in q["sql"]]
    assert listing
    for sql in listing:
        assert '"actions_action"."result"' not in sql and '"contacts_contact"."raw"' not in sql
    # Nothing deferred is read later, one query an action (the query-count tests' N+1).
    assert not [q for q in captured if 'WHERE "actions_action"."id" = ' in q["sql"]]
    assert not [q for q in captured if 'WHERE "contacts_contact"."id" = ' in q["sql"]]
    assert f'href="/contacts/{ann["apptivo"].pk}/">Ann Lee</a>' in html
    assert operator.get_username() in html
