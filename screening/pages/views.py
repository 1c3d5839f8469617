"""Views of the subject's pages. Thin: the services do activation and exactly-once submission."""

import json
import uuid
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.views import APIView

from screening.api.phone import (
    IDEMPOTENCY_KEY,
    ActivationThrottle,
    localised_instruments,
    open_assessments,
)
from screening.models import Assessment, Response
from screening.services.activation import ActivationFailed, ActivationRateLimited, activate
from screening.services.submissions import (
    AssessmentNotFound,
    SubmissionRejected,
    hash_request,
    submit_phone_response,
)

from .session import current_token, page_language, sign_in

LANGUAGE_NAMES = dict(settings.LANGUAGES)


def _render(request, template: str, context: dict, *, language: str, status: int = 200):
    with translation.override(language):
        context = {
            **context,
            "page_language": language,
            "languages": settings.LANGUAGES,
        }
        response = render(request, template, context, status=status)
    response.headers["Content-Language"] = language
    response.headers["Cache-Control"] = "no-store"
    return response


def subject_page(view):
    """Require a subject session; otherwise send the phone to the activation page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        token = current_token(request)
        if token is None:
            return redirect("subject-activate-page")
        request.subject = token.subject
        request.subject_token = token
        return view(request, *args, **kwargs)

    return wrapped


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_http_methods(["GET", "POST"])
def activate_page(request, code: str = ""):
    """Type the activation code, or open the link that carries it (then press Start)."""
    language = page_language(request)
    if current_token(request) is not None and request.method == "GET":
        return redirect("subject-home")
    error = ""
    status = 200
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        throttle = ActivationThrottle()
        # The API's throttle on all attempts per client (scope ``activation``); it reads no view.
        if not throttle.allow_request(request, APIView()):
            with translation.override(language):
                error = _("Too many attempts. Please wait a few minutes and try again.")
            status = 429
        else:
            client = throttle.get_ident(request) or "unknown"
            try:
                result = activate(code=code, client=client)
            except ActivationRateLimited:
                with translation.override(language):
                    error = _("Too many attempts. Please wait a few minutes and try again.")
                status = 429
            except ActivationFailed:
                with translation.override(language):
                    error = _("This code is not valid. Ask your clinic for a new code.")
                status = 400
            else:
                sign_in(request, result.token)
                return redirect("subject-home")
    return _render(
        request,
        "screening/pages/activate.html",
        {"code": code, "error": error, "from_link": bool(code) and request.method == "GET"},
        language=language,
        status=status,
    )


@subject_page
def home(request):
    """The subject's open questionnaires (nothing else: never a score)."""
    subject = request.subject
    language = page_language(request, subject)
    assessments = list(open_assessments(subject, timezone.now()).order_by("closes_at", "id"))
    instruments = localised_instruments([a.instrument_code for a in assessments], subject.language)
    rows = [
        {"assessment": assessment, "instrument": instruments.get(assessment.instrument_code)}
        for assessment in assessments
    ]
    return _render(
        request,
        "screening/pages/home.html",
        {"rows": [row for row in rows if row["instrument"]], "subject": subject},
        language=language,
    )


def _parse_answers(definition: dict, data) -> dict:
    """Read the form's fields into the API's answers (item code -> value); blanks are left out."""
    answers: dict = {}
    for item in definition["items"]:
        raw = data.get(item["code"], "")
        if not isinstance(raw, str) or raw == "":
            continue
        if item["type"] == "choice":
            match = [o["value"] for o in item["options"] if str(o["value"]) == raw]
            answers[item["code"]] = match[0] if match else raw
        else:
            try:
                answers[item["code"]] = int(raw)
            except ValueError:
                answers[item["code"]] = raw
    return answers


def _choices(item: dict) -> list[dict]:
    """The buttons of an item: its options, or each whole number of a 0-10 style scale."""
    if item["type"] == "choice":
        return [{"value": str(o["value"]), "label": o["label"]} for o in item["options"]]
    return [{"value": str(v), "label": str(v)} for v in range(item["min"], item["max"] + 1)]


def _item_errors(fields: dict) -> dict[str, bool]:
    prefix = "answers."
    return {key[len(prefix) :]: True for key in fields if key.startswith(prefix)}


@subject_page
@require_http_methods(["GET", "POST"])
def questionnaire(request, assessment_id):
    """One open questionnaire: every item in one form (JavaScript shows one item per screen)."""
    subject = request.subject
    language = page_language(request, subject)
    done_url = reverse("subject-done", kwargs={"assessment_id": assessment_id})
    if Response.objects.filter(subject=subject, assessment_id=assessment_id).exists():
        if request.method == "GET":
            return redirect(done_url)
    assessment = open_assessments(subject, timezone.now()).filter(pk=assessment_id).first()
    if assessment is None and request.method == "GET":
        return _render(request, "screening/pages/closed.html", {}, language=language, status=404)
    # A POST is read against the assessment's instrument even when it has closed or was answered
    # since (a resend after a lost reply): the service then replays or names the conflict.
    target = assessment or Assessment.objects.filter(pk=assessment_id, subject=subject).first()
    instrument_code = target.instrument_code if target else None
    instrument = None
    if instrument_code:
        instrument = localised_instruments([instrument_code], subject.language).get(instrument_code)
    errors: dict = {}
    answers: dict = {}
    key = str(uuid.uuid4())
    status = 200
    if request.method == "POST":
        key = request.headers.get("Idempotency-Key") or request.POST.get("idempotency_key", "")
        answers = _parse_answers(instrument, request.POST) if instrument is not None else {}
        if not IDEMPOTENCY_KEY.fullmatch(key or ""):
            key = str(uuid.uuid4())
            errors = {"__all__": True}
            status = 400
        else:
            outcome = _submit(request, subject, assessment_id, answers, key)
            if outcome == "stored":
                if _wants_json(request):
                    return JsonResponse({"redirect": done_url})
                return redirect(done_url)
            if isinstance(outcome, dict):
                errors, status = outcome, 400
            else:
                if _wants_json(request):
                    return JsonResponse({"error": outcome}, status=409)
                return _render(
                    request, "screening/pages/closed.html", {}, language=language, status=409
                )
        if _wants_json(request):
            return JsonResponse({"error": "invalid", "items": sorted(errors)}, status=status)
    if instrument is None or assessment is None:
        return _render(request, "screening/pages/closed.html", {}, language=language, status=404)
    wanted = subject.language.replace("_", "-").split("-")[0].lower()
    fallback = wanted != "en" and instrument["language"] == "en"
    items = [
        {
            **item,
            "choices": _choices(item),
            "number": number,
            "error": item["code"] in errors,
            "chosen": "" if answers.get(item["code"]) is None else str(answers[item["code"]]),
        }
        for number, item in enumerate(instrument["items"], start=1)
    ]
    return _render(
        request,
        "screening/pages/questionnaire.html",
        {
            "assessment": assessment,
            "instrument": instrument,
            "items": items,
            "total": len(items),
            "idempotency_key": key,
            "errors": errors,
            "fallback": fallback,
            "wanted_language_name": LANGUAGE_NAMES.get(wanted, subject.language),
        },
        language=language,
        status=status,
    )


def _submit(request, subject, assessment_id, answers: dict, key: str):
    """Submit through the same service as the API; 'stored', item errors, or a conflict code."""
    try:
        reply = submit_phone_response(
            subject=subject,
            assessment_id=assessment_id,
            answers=answers,
            idempotency_key=key,
            request_hash=hash_request(assessment_id=assessment_id, body={"answers": answers}),
        )
    except AssessmentNotFound:
        return "not_found"
    except SubmissionRejected as rejected:
        if rejected.kind == "invalid":
            return _item_errors(rejected.fields) or {"__all__": True}
        if (
            rejected.code == "already_answered"
            and Response.objects.filter(subject=subject, assessment_id=assessment_id).exists()
        ):
            return "stored"
        return rejected.code
    return "stored" if reply.status == 201 else "invalid"


@subject_page
def done(request, assessment_id):
    """Thanks; after PHQ-9 item 9 >= 1 the site's crisis message, prominently. Never a score."""
    subject = request.subject
    response = Response.objects.filter(subject=subject, assessment_id=assessment_id).first()
    if response is None:
        return redirect("subject-home")
    support_message = ""
    if response.reply_body:
        support_message = json.loads(response.reply_body).get("support_message", "")
    return _render(
        request,
        "screening/pages/done.html",
        {"support_message": support_message, "assessment_id": str(assessment_id)},
        language=page_language(request, subject),
    )


@require_POST
def logout(request):
    """Sign this phone out: revoke its token and end the session."""
    token = current_token(request)
    if token is not None:
        token.revoke()
    request.session.flush()
    return redirect("subject-activate-page")
