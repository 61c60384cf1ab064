"""Reading the audit trail: the filters auditors use (pages and API alike) and what they may ask for."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from restore.audit.trail import Action, Result
from restore.models import AuditEvent

ACTIONS = sorted(v for k, v in vars(Action).items() if k.isupper())


RESULTS = sorted(v for k, v in vars(Result).items() if k.isupper())


PAGE_SIZE, MAX_PAGE_SIZE = 50, 500


LOOKUPS = {  # filter -> field lookup
    "person": "actor_username__iexact", "acting_for": "acting_for_username__iexact", "action": "action",
    "result": "result", "path": "path__icontains", "since": "at__gte", "until": "at__lt",
}


class AuditQuery(forms.Form):
    """The filters of the page, the API and the export, validated once."""

    person = forms.CharField(label=_("Person"), required=False, max_length=256, help_text=_("who acted (user name)"))
    acting_for = forms.CharField(label=_("Acting for"), required=False, max_length=256,
                                 help_text=_("whom a helpdesk member acted for"))
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[("", _("any"))] + [(a, a) for a in ACTIONS])
    result = forms.ChoiceField(label=_("Result"), required=False, choices=[("", _("any"))] + [(r, r) for r in RESULTS])
    path = forms.CharField(label=_("Path"), required=False, max_length=2048, help_text=_("part of a path"))
    since = forms.DateTimeField(label=_("Since"), required=False, help_text=_("from (ISO 8601, UTC unless given)"))
    until = forms.DateTimeField(label=_("Until"), required=False, help_text=_("before (ISO 8601, UTC unless given)"))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, widget=forms.HiddenInput)

    FILTERS = tuple(LOOKUPS)

    @staticmethod
    def _utc(value):
        """Any offset Python accepts (up to 24 h) as UTC, which PostgreSQL takes (its offsets stop at 15:59)."""
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(_("This time is out of range.")) from None

    def clean_since(self):
        return self._utc(self.cleaned_data.get("since"))

    def clean_until(self):
        return self._utc(self.cleaned_data.get("until"))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise forms.ValidationError(_("'since' must be earlier than 'until'."))
        return data

    def events(self) -> QuerySet:
        """The matching records, newest first (call after is_valid())."""
        conditions = {LOOKUPS[name]: value for name, value in self.cleaned_data.items() if name in LOOKUPS and value}
        return AuditEvent.objects.filter(**conditions).order_by("-id")

    def page(self) -> tuple[list[AuditEvent], int | None]:
        """One page (keyset on the id, so a growing trail never shifts it) and the id to continue before."""
        limit = self.cleaned_data.get("limit") or PAGE_SIZE
        events = self.events()
        if self.cleaned_data.get("before"):
            events = events.filter(id__lt=self.cleaned_data["before"])
        rows = list(events[: limit + 1])
        return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)

    def filter_query(self, **extra) -> str:
        """The filters as a query string (for the next page and the export links)."""
        params = {name: self.data.get(name) for name in self.FILTERS if self.data.get(name)}
        return urlencode({**params, **extra})

    def errors_text(self) -> str:
        return "; ".join(f"{'' if field == '__all__' else field + ': '}{' '.join(msgs)}"
                         for field, msgs in self.errors.items())
