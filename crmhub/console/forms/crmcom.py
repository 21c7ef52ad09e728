"""CRM.COM acts: compose a communication, complete it, mark it viewed; work the queue."""

from __future__ import annotations

from typing import Any

from django import forms

from crmhub.console.forms.base import ActForm

DIRECTIONS = [("", "—"), ("OUTGOING", "Outgoing"), ("INCOMING", "Incoming")]
MEDIA = [
    ("", "—"),
    ("EMAIL", "Email"),
    ("SMS", "SMS"),
    ("PHONE", "Phone"),
    ("LETTER", "Letter"),
    ("FACE_TO_FACE", "Face to face"),
]
LIFE_CYCLE_STATES = [("COMPLETED", "Completed"), ("DRAFT", "Draft")]


class CommunicationCreateForm(ActForm):
    template = forms.CharField(
        label="Template",
        required=False,
        max_length=100,
        help_text="A template's code or name; it fills direction, media, subject and content.",
    )
    direction = forms.ChoiceField(label="Direction", required=False, choices=DIRECTIONS)
    media = forms.ChoiceField(  # type: ignore[assignment]  # a field; Form.media stays (metaclass)
        label="Media", required=False, choices=MEDIA
    )
    to = forms.CharField(
        label="To", required=False, max_length=300, help_text="Needed when the media is email."
    )
    subject = forms.CharField(label="Subject", required=False, max_length=300)
    content = forms.CharField(label="Content", required=False, widget=forms.Textarea({"rows": 5}))
    life_cycle_state = forms.ChoiceField(
        label="Save as", choices=LIFE_CYCLE_STATES, initial="DRAFT"
    )
    category = forms.CharField(label="Category", required=False, max_length=100)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea({"rows": 2}))

    def setup(self) -> None:
        if self.contact is not None and self.contact.emails:
            self.fields["to"].initial = self.contact.emails[0]


class CommunicationRefForm(ActForm):
    """Identify one communication (complete it, mark it viewed, show it)."""

    communication = forms.CharField(label="Communication", max_length=100, widget=forms.HiddenInput)


class QueueEntryForm(ActForm):
    """Identify one queue entry (process or remove it)."""

    queue_entry = forms.CharField(label="Queue entry", max_length=100, widget=forms.HiddenInput)


class QueueRejectForm(QueueEntryForm):
    error_code = forms.CharField(label="Rejection code", max_length=50)
    error_description = forms.CharField(label="Reason", max_length=255)


class QueueSourceForm(forms.Form):
    """Which pending entries the queue page reads: one media at a time (CRM.COM's rule)."""

    media = forms.ChoiceField(  # type: ignore[assignment]  # a field; Form.media stays (metaclass)
        label="Media", choices=MEDIA[1:], initial="EMAIL", required=False
    )

    def params(self) -> dict[str, Any]:
        media = (self.cleaned_data.get("media") if self.is_valid() else "") or "EMAIL"
        return {"life_cycle_state": "PENDING", "media": media}
