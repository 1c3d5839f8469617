"""Views of the clinician desk. Thin: notifications.alerts acknowledges and resolves; the same
site scoping as the API (another site's alert or subject is a 404, exactly as an unknown id)."""

from datetime import timedelta
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Prefetch, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.views import APIView

from notifications.alerts import (
    AlertConflict,
    AlertForbidden,
    acknowledge_alert,
    resolve_alert,
)
from notifications.api.alerts import visible_alerts
from notifications.models import Alert, Delivery
from notifications.transports.messages import CATEGORY_WORDS
from screening.api.auth import StaffLoginThrottle
from screening.models import Subject
from screening.pages.links import activation_link, qr_svg
from screening.selectors import is_admin, visible_subjects
from screening.services.activation import SubjectNotActive, issue_activation_code
from screening.services.profiles import current_profile, thresholds_for

from . import timeline

# The floor of the 20-35 µg/mL cycloserine target range (WHO companion handbook 2014; the
# ceiling comes from the monitoring profile).
CMAX_TARGET_FLOOR = 20.0
SEVERITY_RANK = Case(
    When(severity=Alert.Severity.URGENT, then=Value(0)),
    When(severity=Alert.Severity.HIGH, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
UNRESOLVED = [Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]


def works_at_a_site(user) -> bool:
    return is_admin(user) or user.site_memberships.exists()


class DeskAuthenticationForm(AuthenticationForm):
    """Username and password; only admins and members of a site may use the desk."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not works_at_a_site(user):
            raise ValidationError(
                "This account belongs to no site yet. Ask an administrator to add you to one.",
                code="no_site",
            )


class DeskLoginView(LoginView):
    template_name = "notifications/desk/login.html"
    authentication_form = DeskAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        # The same rate limit as the API's token endpoint (STAFF_LOGIN_RATE per client).
        if not StaffLoginThrottle().allow_request(request, APIView()):
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


def desk_page(view):
    """Signed in (else the login page), and a member of a site (else 403)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not works_at_a_site(request.user):
            return render(request, "notifications/desk/no_site.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            # Another site's alert or subject reads exactly as an unknown id.
            return render(request, "notifications/desk/not_found.html", status=404)

    return wrapped


def _alerts(user):
    return visible_alerts(user).prefetch_related(
        Prefetch(
            "deliveries",
            queryset=Delivery.objects.select_related("channel", "recipient").order_by("created_at"),
        )
    )


def _card(alert: Alert, now) -> dict:
    return {
        "alert": alert,
        "category_words": CATEGORY_WORDS.get(alert.category, alert.category),
        "reasons": [r.get("text", "") for r in alert.reasons if isinstance(r, dict)],
        "waiting": now - alert.created_at,
        "deliveries": list(alert.deliveries.all()),
    }


@desk_page
def alert_list(request):
    """Open and acknowledged alerts of the user's sites, most severe first, then oldest."""
    now = timezone.now()
    alerts = (
        _alerts(request.user)
        .filter(status__in=UNRESOLVED)
        .annotate(rank=SEVERITY_RANK)
        .order_by("rank", "created_at", "id")
    )
    return render(
        request,
        "notifications/desk/alerts.html",
        {"cards": [_card(alert, now) for alert in alerts], "actions": Alert.Action.choices},
    )


def _get_alert(request, alert_id) -> Alert:
    alert = _alerts(request.user).filter(pk=alert_id).first()
    if alert is None:
        raise Http404
    return alert


@desk_page
def alert_detail(request, alert_id):
    """One alert (the link in alert emails), with a link to its subject's timeline."""
    alert = _get_alert(request, alert_id)
    return render(
        request,
        "notifications/desk/alert.html",
        {"card": _card(alert, timezone.now()), "actions": Alert.Action.choices},
    )


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


@require_POST
@desk_page
def acknowledge(request, alert_id):
    alert = _get_alert(request, alert_id)
    try:
        acknowledged = acknowledge_alert(alert_id=alert.pk, user=request.user)
    except AlertConflict as conflict:
        messages.error(request, conflict.message)
    else:
        if acknowledged.status == Alert.Status.ACKNOWLEDGED:
            messages.success(request, f"Alert for {alert.subject.study_id} acknowledged.")
        else:
            messages.warning(
                request,
                f"Your acknowledgement of the alert for {alert.subject.study_id} is recorded; "
                "it stays open, escalating, until a clinician of the site acknowledges it.",
            )
    return _back(request, "desk-alerts")


class ResolveForm(forms.Form):
    action_taken = forms.ChoiceField(choices=Alert.Action.choices)
    note = forms.CharField(max_length=2000, strip=True)


@require_POST
@desk_page
def resolve(request, alert_id):
    alert = _get_alert(request, alert_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "To resolve an alert, choose the action taken and write a note.")
        return _back(request, "desk-alerts")
    try:
        resolve_alert(
            alert_id=alert.pk,
            user=request.user,
            action_taken=form.cleaned_data["action_taken"],
            note=form.cleaned_data["note"],
        )
    except (AlertConflict, AlertForbidden) as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Alert for {alert.subject.study_id} resolved.")
    return _back(request, "desk-alerts")


def _subject(request, subject_id) -> Subject:
    subject = visible_subjects(request.user).select_related("site").filter(pk=subject_id).first()
    if subject is None:
        raise Http404
    return subject


def subject_timeline(subject: Subject, *, now) -> tuple[dict, dict]:
    """Gather the subject's measures and lay them out; return the layout and the rows."""
    thresholds = thresholds_for(current_profile())
    responses = list(subject.responses.order_by("completed_at"))
    cmax = list(subject.cmax_results.order_by("sampled_at"))
    regimen = list(subject.regimen_changes.order_by("effective_from"))
    alerts = list(subject.alerts.order_by("created_at"))
    phq9, gad7, grade = [], [], []
    for response in responses:
        score = response.score or {}
        if not response.valid and score.get("grade") is None:
            continue
        if response.instrument_code == "PHQ-9" and score.get("total") is not None:
            phq9.append((response.completed_at, float(score["total"]), f"PHQ-9 {score['total']}"))
        elif response.instrument_code == "GAD-7" and score.get("total") is not None:
            gad7.append((response.completed_at, float(score["total"]), f"GAD-7 {score['total']}"))
        elif response.instrument_code == "NEURO-SX" and score.get("grade") is not None:
            grade.append(
                (response.completed_at, float(score["grade"]), f"neuropathy grade {score['grade']}")
            )
    ceiling = float(thresholds.cmax_ceiling)
    cmax_points = [
        (row.sampled_at, float(row.value_ug_per_ml), f"Cmax {row.value_ug_per_ml:g} µg/mL")
        for row in cmax
    ]
    cmax_high = max([ceiling * 1.4, *[value * 1.1 for _, value, _ in cmax_points]])
    lanes = [
        timeline.Lane(
            "phq9",
            "PHQ-9",
            "0-27",
            0,
            27,
            phq9,
            [
                timeline.Threshold("phq9_positive", "positive", thresholds.phq9_positive),
                timeline.Threshold("phq9_severe", "severe", thresholds.phq9_severe),
            ],
        ),
        timeline.Lane(
            "gad7",
            "GAD-7",
            "0-21",
            0,
            21,
            gad7,
            [timeline.Threshold("gad7_positive", "positive", thresholds.gad7_positive)],
        ),
        timeline.Lane(
            "neuropathy",
            "Neuropathy grade",
            "0-3",
            0,
            3,
            grade,
            [
                timeline.Threshold(
                    "neuropathy_grade_positive", "positive", thresholds.neuropathy_grade_positive
                )
            ],
        ),
        timeline.Lane(
            "cmax",
            "Cmax µg/mL",
            "µg/mL",
            0,
            round(cmax_high),
            cmax_points,
            [timeline.Threshold("cmax_ceiling", "ceiling", ceiling)],
            band=(CMAX_TARGET_FLOOR, ceiling),
        ),
    ]
    moments = [subject.created_at, now]
    moments += [r.completed_at for r in responses] + [c.sampled_at for c in cmax]
    moments += [r.effective_from for r in regimen] + [a.created_at for a in alerts]
    start = min(moments) - timedelta(days=1)
    end = max(moments) + timedelta(days=1)
    layout = timeline.layout(
        lanes,
        start=start,
        end=end,
        regimen_changes=[
            timeline.Marker(r.effective_from, f"{r.drug} {r.dose_mg_per_day} mg/day", "regimen")
            for r in regimen
        ],
        alerts=[
            timeline.Marker(
                a.created_at,
                f"{a.severity} {CATEGORY_WORDS.get(a.category, a.category)} ({a.status})",
                a.severity,
            )
            for a in alerts
        ],
    )
    rows = {
        "responses": list(reversed(responses)),
        "cmax": list(reversed(cmax)),
        "regimen": list(reversed(regimen)),
        "alerts": list(reversed(alerts)),
        "thresholds": thresholds,
        "target_floor": CMAX_TARGET_FLOOR,
    }
    return layout, rows


@desk_page
def subject_detail(request, subject_id):
    """The subject's measures over time on one timeline, with thresholds, regimen and alerts."""
    subject = _subject(request, subject_id)
    layout, rows = subject_timeline(subject, now=timezone.now())
    return render(
        request,
        "notifications/desk/subject.html",
        {"subject": subject, "timeline": layout, **rows},
    )


@require_POST
@desk_page
def activation_code(request, subject_id):
    """Issue a one-time activation code and show it with its link and QR code, to print."""
    subject = _subject(request, subject_id)
    try:
        row, code = issue_activation_code(subject=subject, actor=request.user)
    except SubjectNotActive:
        messages.error(request, "The subject is withdrawn; no code is issued.")
        return redirect("desk-subject", subject_id=subject.pk)
    link = activation_link(code, request)
    response = render(
        request,
        "notifications/desk/activation_code.html",
        {"subject": subject, "code": code, "link": link, "qr": qr_svg(link), "row": row},
    )
    response.headers["Cache-Control"] = "no-store"
    return response
