"""Amend a response (issue 10): changed answers with a required reason, who and when.

The response row stays as it was received (design: responses are never edited). An ``Amendment``
holds the full current answers (the previous current answers with the changed items applied; an
item given as null is removed, i.e. made unanswered), scored afresh with the response's own
instrument version (``questionnaires.scoring.score_definition``). The evidence the decision table
reads is the latest amendment's (``screening.evidence``); the amendment is audited with old and
new answers and scores, and an evaluation is requested in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from screening.audit import record_audit
from screening.models import Amendment, Response
from screening.services.outbox import request_evaluation
from screening.services.submissions import SubmissionRejected, _validate_and_score


def current_answers(response: Response) -> tuple[dict, dict, bool, Amendment | None]:
    """Return a response's current answers, score, validity and latest amendment (or None)."""
    latest = response.amendments.order_by("-created_at", "-id").first()
    if latest is None:
        return dict(response.answers), dict(response.score), response.valid, None
    return dict(latest.answers), dict(latest.score), latest.valid, latest


@transaction.atomic
def amend_response(*, response: Response, changes: Any, reason: str, amended_by) -> Amendment:
    """Store an amendment of ``response``'s answers; return it. Raises ``SubmissionRejected``."""
    fields: dict[str, list[str]] = {}
    if not isinstance(reason, str) or not reason.strip():
        fields["reason"] = ["A reason is required."]
    if not isinstance(changes, dict) or not changes:
        fields["answers"] = ["Give the changed answers: an object of item code -> value."]
    if fields:
        raise SubmissionRejected(
            "invalid", "invalid", "The request is invalid: see fields.", fields
        )
    # Serialise amendments of one response so each one starts from the one before.
    response = (
        Response.objects.select_for_update()
        .select_related("instrument_version")
        .get(pk=response.pk)
    )
    previous_answers, previous_score, _, _ = current_answers(response)
    answers = dict(previous_answers)
    for code, value in changes.items():
        if value is None:
            answers.pop(code, None)
        else:
            answers[code] = value
    if answers == previous_answers:
        raise SubmissionRejected(
            "invalid",
            "invalid",
            "The amendment changes nothing.",
            {"answers": ["Every given answer equals the current one."]},
        )
    result = _validate_and_score(response.instrument_version, answers, require_all=False)
    amendment = Amendment.objects.create(
        response=response,
        answers=answers,
        score=result.as_dict(),
        valid=result.valid,
        previous_answers=previous_answers,
        previous_score=previous_score,
        reason=reason.strip(),
        amended_by=amended_by if getattr(amended_by, "pk", None) else None,
    )
    record_audit(
        action="amend",
        obj=response,
        actor=amended_by,
        subject=response.subject,
        changes={
            "amendment": str(amendment.pk),
            "old": {"answers": previous_answers, "score": previous_score},
            "new": {"answers": answers, "score": amendment.score},
        },
        reason=amendment.reason,
    )
    request_evaluation(subject=response.subject, reason="amendment", source_id=str(response.pk))
    return amendment
