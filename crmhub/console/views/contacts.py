from __future__ import annotations

import hashlib

from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from crmhub.actions import selectors as action_selectors
from crmhub.actions.models import Action
from crmhub.connections.selectors import connection_list
from crmhub.console import compare, selectors
from crmhub.console.access import viewer_required
from crmhub.console.acts import connection_buttons, contact_buttons
from crmhub.console.forms.matching import (
    CorrectionForm,
    JoinForm,
    JoinSearchForm,
    blank_reason,
)
from crmhub.console.forms.search import ContactSearchForm
from crmhub.console.regions import read_state
from crmhub.console.rendering import HtmxHttpRequest, render_page
from crmhub.console.views import or_404
from crmhub.contacts import selectors as contact_selectors
from crmhub.contacts.matching.evidence import corrections_of, person_evidence
from crmhub.contacts.models import Contact, Person

LIST_TEMPLATE = "console/contact_list.html"
PERSON_TEMPLATE = "console/person_detail.html"
PAGE_SIZE = 50
#: People a join search offers at most.
JOIN_CANDIDATES = 10


@viewer_required
@require_GET
def contact_list(request: HtmxHttpRequest) -> HttpResponse:
    """Search people across every CRM as you type; "more" loads the next page (keyset)."""
    form = ContactSearchForm(request.GET)
    search = form.search()
    after = form.cleaned_data.get("after") or None if form.is_valid() else None
    page = contact_selectors.contact_search(
        query=search["query"], filters=search["filters"], after=after, limit=PAGE_SIZE
    )
    context = {
        "form": form,
        "page": page,
        "rows": selectors.result_rows(page.rows),
        "search": search,
    }
    if after is None:  # the first page says how many people the search finds
        context["count"] = contact_selectors.contact_search_count(
            query=search["query"], filters=search["filters"], first_page=page
        )
    if not request.htmx:
        context["connection_acts"] = [
            (connection, act)
            for connection in connection_list(active=True)
            for act in connection_buttons(connection.kind)
        ]
    return render_page(
        request,
        LIST_TEMPLATE,
        context,
        partial="contact-results",
        partials={"load-more": "contact-rows"},
    )


@viewer_required
@require_GET
def person_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show a person's records side by side, their links, communications and actions."""
    person = or_404(contact_selectors.person_detail(pk=pk), "No such person.")
    records = contact_selectors.person_contacts(person=person)
    return person_page(request, person, records)


@viewer_required
@require_GET
def contact_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Show a contact: its person's page when it has one, else the record alone."""
    contact = or_404(contact_selectors.contact_detail(pk=pk), "No such contact.")
    if contact.person_id:
        return redirect("console:person-detail", pk=contact.person_id)
    return person_page(request, None, [contact])


def _join_candidates(query: str, records: list[Contact]) -> list[selectors.ResultRow]:
    """Return the search results a join may pick: everyone but these records' person."""
    if not query:
        return []
    page = contact_selectors.contact_search(query=query, limit=JOIN_CANDIDATES + 1)
    ids = {record.pk for record in records}
    rows = [row for row in page.rows if not ids & {c.pk for c in row.contacts}]
    return selectors.result_rows(rows[:JOIN_CANDIDATES])


def person_page(
    request: HtmxHttpRequest,
    person: Person | None,
    records: list[Contact],
    *,
    split_form: tuple[int, CorrectionForm] | None = None,
    join_form: JoinForm | None = None,
) -> HttpResponse:
    """Render the page of a person's records (or of one record alone).

    ``split_form`` (record id, form) and ``join_form`` are refused correction forms, shown
    again with their errors.
    """
    ids = [record.pk for record in records]
    communications = action_selectors.latest_reads(
        operation="communications_list",
        contact_ids=[record.pk for record in records if record.connection.kind == "crmcom"],
    )
    links = action_selectors.latest_reads(
        operation="get_contact_links",
        contact_ids=[record.pk for record in records if record.connection.kind == "allclients"],
    )
    cards = [
        {
            "record": record,
            "acts": contact_buttons(record.connection.kind, record.record_type)
            if record.deleted_at is None
            else [],
            "extras": compare.raw_extras(record),
            "communications": read_state(
                operation="communications_list",
                connection=record.connection,
                contact=record,
                found=communications.get(record.pk, (None, None)),
            )
            if record.connection.kind == "crmcom"
            else None,
            # A refused split is shown again with its errors; the others are blank.
            "split_form": split_form[1] if split_form and split_form[0] == record.pk else None,
            "split_reason": blank_reason(id_prefix=f"split-{record.pk}-"),
            "links": read_state(
                operation="get_contact_links",
                connection=record.connection,
                contact=record,
                found=links.get(record.pk, (None, None)),
            )
            if record.connection.kind == "allclients"
            else None,
        }
        for record in records
    ]
    search = JoinSearchForm(request.GET, auto_id="join-%s")
    evidence = person_evidence(records=records) if person is not None else None
    actions = action_selectors.actions_of_contacts(contacts=records)
    version = "|".join(f"{a.pk}:{a.state}:{a.updated_at.timestamp():.6f}" for a in actions)
    version = hashlib.sha256(version.encode()).hexdigest()[:16]
    if request.htmx and request.htmx.target == "person-actions" and request.GET.get("v") == version:
        return HttpResponse(status=204)
    has_allclients = any(r.connection.kind == "allclients" for r in records)
    context = {
        "person": person,
        "title": (person.display_name if person else "") or records[0].display_name,
        "cards": cards,
        "fields": compare.compare_records(records),
        # Shown for AllClients records only: no query for the others.
        "links": action_selectors.contact_links(contact_ids=ids) if has_allclients else [],
        "has_allclients": has_allclients,
        "actions": actions,
        "actions_version": version,
        "actions_live": any(not action.is_terminal for action in actions),
        "my_prompts": action_selectors.actions_whole(
            actions=[
                a
                for a in actions
                if a.state == Action.State.NEEDS_INPUT and a.requested_by_id == request.user.pk
            ]
        ),
        "evidence": evidence,
        "phone_only": evidence.phone_only if evidence else frozenset(),
        "corrections": corrections_of(contact_ids=ids),
        "join_search": search,
        "join_form": join_form or JoinForm(auto_id="join-%s"),
        "join_candidates": _join_candidates(search.query(), records),
        "join_record": next((r for r in records if r.deleted_at is None), records[0]),
    }
    return render_page(
        request,
        PERSON_TEMPLATE,
        context,
        partial="person-body",
        partials={
            "person-actions": "person-actions",
            "person-links": "person-links",
            "join-candidates": "join-candidates",
        },
    )
