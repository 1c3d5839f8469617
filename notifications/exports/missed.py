"""The missed-data report: per site and instrument, scheduled vs completed vs missed, and the
subjects with two or more consecutive missed assessments of an instrument.

"Scheduled" counts every assessment not cancelled whose window has opened (upcoming ones are
reported apart); "missed" those whose window closed unanswered. A run of missed assessments is
counted over one subject's assessments of one instrument in window order, cancelled ones
skipped, open and upcoming ones ending the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from django.db.models import Count, Q
from django.utils import timezone

from screening.models import Assessment

from .datasets import scoped

CONSECUTIVE_MISSED = 2


def missed_runs(statuses: Iterable[str]) -> tuple[int, int]:
    """Return (longest, current) runs of consecutive ``missed`` in window order (pure).

    ``cancelled`` is skipped; ``completed`` ends a run; scheduled and open ones are not yet
    decided and are ignored (they come last in window order).
    """
    longest = current = 0
    for status in statuses:
        if status == "missed":
            current += 1
            longest = max(longest, current)
        elif status == "completed":
            current = 0
    return longest, current


def missed_report(user, *, site: str | None = None, now=None) -> dict:
    """Return the report for the sites the user may see (admins: all)."""
    now = now or timezone.now()
    assessments = scoped(Assessment.objects.all(), user, site=site)
    totals = (
        assessments.values("subject__site__code", "instrument_code")
        .annotate(
            scheduled=Count("id", filter=~Q(status="cancelled") & Q(opens_at__lte=now)),
            completed=Count("id", filter=Q(status="completed")),
            missed=Count("id", filter=Q(status="missed")),
            open=Count("id", filter=Q(status="open")),
            upcoming=Count("id", filter=Q(status="scheduled", opens_at__gt=now)),
            cancelled=Count("id", filter=Q(status="cancelled")),
        )
        .order_by("subject__site__code", "instrument_code")
    )
    rows = []
    for entry in totals:
        decided = entry["completed"] + entry["missed"]
        rows.append(
            {
                "site": entry["subject__site__code"],
                "instrument": entry["instrument_code"],
                "scheduled": entry["scheduled"],
                "completed": entry["completed"],
                "missed": entry["missed"],
                "open": entry["open"],
                "upcoming": entry["upcoming"],
                "cancelled": entry["cancelled"],
                "missed_fraction": round(entry["missed"] / decided, 4) if decided else None,
            }
        )
    sequence = (
        assessments.exclude(status="cancelled")
        .order_by("subject_id", "instrument_code", "opens_at", "id")
        .values_list(
            "subject_id", "subject__site__code", "subject__study_id", "instrument_code", "status"
        )
    )
    subjects = []
    for (subject_id, site_code, study_id, instrument), group in groupby(
        sequence.iterator(chunk_size=5000), key=lambda row: row[:4]
    ):
        longest, current = missed_runs(row[4] for row in group)
        if longest >= CONSECUTIVE_MISSED:
            subjects.append(
                {
                    "subject_id": str(subject_id),
                    "site": site_code,
                    "study_id": study_id,
                    "instrument": instrument,
                    "longest_missed_run": longest,
                    "current_missed_run": current,
                }
            )
    return {
        "generated_at": now.isoformat(),
        "by_site_and_instrument": rows,
        "subjects_with_consecutive_missed": subjects,
    }
