"""What a person found when they checked an action in the CRM."""

from __future__ import annotations

from django import forms

from crmhub.actions.models import Action


class CheckedForm(forms.Form):
    verdict = forms.ChoiceField(label="What you found", choices=Action.Verdict.choices)
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=1000,
        help_text="What you saw in the CRM, for whoever looks next.",
    )

    def problem(self) -> str:
        """Return the form's errors as one sentence (shown beside the status)."""
        parts = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            text = " ".join(str(error) for error in errors)
            parts.append(f"{label}: {text}" if label else text)
        return " ".join(parts)
