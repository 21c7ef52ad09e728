"""Staff correct person matching: split a record out, join two people, undo a correction.

Each answers with the page of the records it changed (their person's ids may change when
matching runs again); a refused form shows the person page again with its errors.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from crmhub.console.access import corrector_required
from crmhub.console.forms.matching import CorrectionForm, JoinForm
from crmhub.console.rendering import HtmxHttpRequest
from crmhub.console.views import or_404
from crmhub.console.views.contacts import person_page
from crmhub.contacts import selectors as contact_selectors
from crmhub.contacts.matching import corrections
from crmhub.contacts.matching.evidence import correction_detail
from crmhub.contacts.models import Contact


def _to_record(request: HtmxHttpRequest, contact_id: int) -> HttpResponse:
    """Go to the page of record ``contact_id`` (its person's, when it has one)."""
    url = reverse("console:contact-detail", args=[contact_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _refused(
    request: HtmxHttpRequest,
    contact: Contact,
    *,
    split_form: CorrectionForm | None = None,
    join_form: JoinForm | None = None,
) -> HttpResponse:
    """Show the page of ``contact`` again with the refused form."""
    person = contact.person
    records = contact_selectors.person_contacts(person=person) if person else [contact]
    split = (contact.pk, split_form) if split_form is not None else None
    return person_page(request, person, records, split_form=split, join_form=join_form)


def _contact(pk: int) -> Contact:
    return or_404(contact_selectors.contact_detail(pk=pk), "No such contact.")


@corrector_required
@require_POST
def contact_split(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Split a record out of its person: "not the same person" as the others."""
    contact = _contact(pk)
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            correction = corrections.person_split(
                contact=contact, user=request.user, reason=form.cleaned_data["reason"]
            )
        except corrections.CorrectionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{contact.display_name or contact.remote_id} was split out.")
            other = correction.members.filter(side="b").order_by("contact_id").first()
            return _to_record(request, other.contact_id if other else contact.pk)
    return _refused(request, contact, split_form=form)


@corrector_required
@require_POST
def contact_join(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Join the person of a record (or the record alone) with another: "same person"."""
    contact = _contact(pk)
    form = JoinForm(request.POST)
    if form.is_valid():
        try:
            corrections.person_join(
                contact=contact,
                other=form.cleaned_data["other"],
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
        except corrections.CorrectionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "The records are now one person.")
            return _to_record(request, contact.pk)
    return _refused(request, contact, join_form=form)


@corrector_required
@require_POST
def correction_undo(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Undo a split or a join: matching follows its rule for those records again."""
    correction = or_404(correction_detail(pk=pk), "No such correction.")
    subject = correction.members.order_by("side", "contact_id").first()
    try:
        corrections.correction_undo(correction=correction, user=request.user)
    except corrections.CorrectionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{correction.get_kind_display()} #{correction.pk} undone.")
    if subject is None:
        return redirect("console:contact-list")
    return _to_record(request, subject.contact_id)
