"""The suite's one set of test factories, answer builders and authenticated API clients.

factory_boy factories for every model the tests create. Defaults describe an ordinary case: a
Johannesburg site, an active subject 60 days into treatment, a non-admin staff user with a clinic
email address, a zero-score paper response scored by the instrument's current definition, a 2 h
Cmax sample in µg/mL. Tests state whatever their assertions depend on.

- A user's ``StaffProfile`` (public id) is created by a signal; ``UserFactory(site=site)`` also
  makes the user a member of the site (``site__role=...``, ``site__escalation_tier=...``).
- ``SubjectFactory(with_regimen=True)`` also records the regimen at treatment start, as
  enrolment does.
- ``ResponseFactory`` scores its answers with ``questionnaires.scoring.score_definition`` and the
  instrument's current ``InstrumentVersion``; pass ``assessment=`` and it takes the instrument
  from there.
- ``AlertFactory`` uses the current monitoring profile (version 1 of the default cycloserine
  profile is created by the post_migrate hook); ``MonitoringProfileFactory`` adds the next version.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Alert, Channel, Delivery
from questionnaires.scoring import score_definition
from questionnaires.services import get_current_version
from screening.cmax import convert_to_ug_per_ml
from screening.models import (
    AccessToken,
    Assessment,
    CmaxResult,
    MonitoringProfile,
    RegimenChange,
    Response,
    Schedule,
    ScheduleEntry,
    Site,
    SiteMembership,
    Subject,
)
from screening.services.profiles import current_profile

STAFF_PASSWORD = "staff-pass-123"
JOHANNESBURG = "Africa/Johannesburg"

# --- answer builders -----------------------------------------------------------------------------


def phq9_answers(total: int, *, item9: int | None = 0) -> dict:
    """Return PHQ-9 answers (items 1-9) summing to ``total``; ``item9=None`` leaves item 9 out."""
    remaining = total - (item9 or 0)
    answers: dict = {}
    for number in range(1, 9):
        answers[f"phq9_{number}"] = value = min(3, max(0, remaining))
        remaining -= value
    assert remaining == 0, "total not reachable"
    if item9 is not None:
        answers["phq9_9"] = item9
    return answers


def gad7_answers(total: int) -> dict:
    """Return GAD-7 answers (items 1-7) summing to ``total``."""
    remaining = total
    answers = {}
    for number in range(1, 8):
        answers[f"gad7_{number}"] = value = min(3, max(0, remaining))
        remaining -= value
    assert remaining == 0, "total not reachable"
    return answers


def neuro_answers(highest: int) -> dict:
    """Return NEURO-SX answers whose highest symptom score (right-foot pain) is ``highest``."""
    return {
        "r_pain": highest,
        "r_pins_needles": 0,
        "r_numbness": 0,
        "l_pain": 0,
        "l_pins_needles": 0,
        "l_numbness": 0,
    }


PHQ9_ZERO = phq9_answers(0)
GAD7_ZERO = gad7_answers(0)
NEURO_ZERO = neuro_answers(0)
BPNS_NORMAL = {
    **NEURO_ZERO,
    "vibration_r": 15,
    "vibration_l": 15,
    "reflex_r": "normal",
    "reflex_l": "normal",
}
ZERO_ANSWERS = {"PHQ-9": PHQ9_ZERO, "GAD-7": GAD7_ZERO, "NEURO-SX": NEURO_ZERO, "BPNS": BPNS_NORMAL}


# --- clients -------------------------------------------------------------------------------------


def staff_client(user) -> APIClient:
    """Return an API client that authenticates as the staff user with a fresh bearer token."""
    _, key = AccessToken.issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def subject_client(subject: Subject) -> tuple[APIClient, str]:
    """Return an API client authenticated with a fresh subject token, and the token."""
    _, key = AccessToken.issue(subject=subject)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client, key


# --- sites and staff -----------------------------------------------------------------------------


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    timezone = JOHANNESBURG
    crisis_message = "Call the clinic on 0800 000 000."


class UserFactory(factory.django.DjangoModelFactory):
    """A staff user (not an admin). ``UserFactory(site=site)`` makes them a member of the site."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@clinic.example.org")
    password = factory.django.Password(STAFF_PASSWORD)
    is_staff = False
    is_active = True

    @factory.post_generation
    def site(self, create, extracted, **membership):
        if create and extracted is not None:
            MembershipFactory(user=self, site=extracted, **membership)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SiteMembership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = SiteMembership.Role.CLINICIAN
    escalation_tier = 1


# --- schedules, subjects, regimens, assessments --------------------------------------------------


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"Schedule {n}")
    site = factory.SubFactory(SiteFactory)
    is_default = False


class ScheduleEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduleEntry

    schedule = factory.SubFactory(ScheduleFactory)
    instrument_code = "PHQ-9"
    offset_days = 0
    repeat_every_days = 14
    until_day = 168
    time_of_day = dt.time(9, 0)
    window_hours = 72
    reminder_hours = factory.LazyFunction(lambda: [24, 48])


class RegimenChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegimenChange

    subject = factory.SubFactory("tests.factories.SubjectFactory")
    effective_from = factory.LazyFunction(timezone.now)
    drug = RegimenChange.Drug.CYCLOSERINE
    dose_mg_per_day = 750
    pyridoxine_mg_per_day = 150


def local_midnight(subject: Subject, day: dt.date | None = None) -> dt.datetime:
    """Return midnight of ``day`` (default: the treatment start) in the subject's time zone."""
    zone = ZoneInfo(subject.timezone)
    return dt.datetime.combine(day or subject.treatment_start, dt.time.min, tzinfo=zone)


class SubjectFactory(factory.django.DjangoModelFactory):
    """An active subject 60 days into treatment, with no schedule (so no assessments)."""

    class Meta:
        model = Subject
        skip_postgeneration_save = True

    class Params:
        with_regimen = factory.Trait(
            regimen=factory.RelatedFactory(
                RegimenChangeFactory,
                factory_related_name="subject",
                effective_from=factory.LazyAttribute(lambda o: local_midnight(o.subject)),
            )
        )

    site = factory.SubFactory(SiteFactory)
    study_id = factory.Sequence(lambda n: f"S-{n:04d}")
    timezone = JOHANNESBURG
    language = "en"
    treatment_start = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=60))
    schedule = None


class AssessmentFactory(factory.django.DjangoModelFactory):
    """An open assessment of a fresh schedule entry at the subject's site.

    ``AssessmentFactory(instrument="GAD-7")`` picks the entry's instrument; with an explicit
    ``schedule_entry`` the instrument is the entry's.
    """

    class Meta:
        model = Assessment

    class Params:
        instrument = "PHQ-9"

    subject = factory.SubFactory(SubjectFactory)
    schedule_entry = factory.SubFactory(
        ScheduleEntryFactory,
        schedule__site=factory.SelfAttribute("...subject.site"),
        instrument_code=factory.SelfAttribute("..instrument"),
    )
    occurrence = factory.Sequence(lambda n: n)
    instrument_code = factory.LazyAttribute(lambda o: o.schedule_entry.instrument_code)
    opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + dt.timedelta(hours=72))
    status = Assessment.Status.OPEN


# --- responses -----------------------------------------------------------------------------------


class ResponseFactory(factory.django.DjangoModelFactory):
    """A stored, scored response (paper by default); answers default to the instrument's zeros."""

    class Meta:
        model = Response

    subject = factory.SubFactory(SubjectFactory)
    assessment = None
    instrument_code = factory.LazyAttribute(
        lambda o: o.assessment.instrument_code if o.assessment else "PHQ-9"
    )
    instrument_version = factory.LazyAttribute(lambda o: get_current_version(o.instrument_code))
    source = Response.Source.PAPER
    answers = factory.LazyAttribute(lambda o: dict(ZERO_ANSWERS[o.instrument_code]))
    score = factory.LazyAttribute(
        lambda o: score_definition(o.instrument_version.definition, o.answers).as_dict()
    )
    valid = factory.LazyAttribute(lambda o: o.score["valid"])
    completed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    received_at = factory.LazyAttribute(lambda o: max(o.completed_at, timezone.now()))


# --- therapeutic drug monitoring -----------------------------------------------------------------


class CmaxResultFactory(factory.django.DjangoModelFactory):
    """A 2 h sample taken 3 hours ago; ``value`` may be given as a string ("38")."""

    class Meta:
        model = CmaxResult

    subject = factory.SubFactory(SubjectFactory)
    value = Decimal("30")
    unit = CmaxResult.Unit.UG_PER_ML
    value_ug_per_ml = factory.LazyAttribute(
        lambda o: convert_to_ug_per_ml(Decimal(o.value), o.unit)
    )
    sampled_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=3))
    hours_post_dose = Decimal("2")
    dose_mg = 750
    lab_reference = factory.Sequence(lambda n: f"LAB-{n}")

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        for name in ("value", "hours_post_dose"):
            kwargs[name] = Decimal(kwargs[name])
        return kwargs


class MonitoringProfileFactory(factory.django.DjangoModelFactory):
    """The next version of a drug's monitoring profile (the default version 1 exists already)."""

    class Meta:
        model = MonitoringProfile

    drug = "cycloserine"
    name = factory.LazyAttribute(lambda o: f"{o.drug}, test")
    version = factory.LazyAttribute(
        lambda o: (
            1
            + max(
                MonitoringProfile.objects.filter(drug=o.drug).values_list("version", flat=True),
                default=0,
            )
        )
    )


# --- alerts and their delivery -------------------------------------------------------------------


class AlertFactory(factory.django.DjangoModelFactory):
    """An open, urgent discontinuation alert (PHQ-9 item 9) under the current profile."""

    class Meta:
        model = Alert

    subject = factory.SubFactory(SubjectFactory)
    profile = factory.LazyFunction(current_profile)
    category = Alert.Category.DISCONTINUATION
    severity = Alert.Severity.URGENT
    rules = factory.LazyFunction(lambda: ["D1"])
    reasons = factory.LazyFunction(
        lambda: [
            {
                "rule": "D1",
                "text": "PHQ-9 item 9 (thoughts of self-harm) answered 2: urgent review.",
                "inputs": {"phq9_item9": 2},
            }
        ]
    )
    recommended_actions = factory.LazyFunction(
        lambda: ["Assess suicide risk today.", "Consider stopping cycloserine."]
    )


class ChannelFactory(factory.django.DjangoModelFactory):
    """An email channel to the user's own address."""

    class Meta:
        model = Channel

    user = factory.SubFactory(UserFactory)
    kind = Channel.Kind.EMAIL
    address = factory.LazyAttribute(lambda o: o.user.email)
    signing_secret = ""


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A pending tier-1 delivery of an alert to a channel's user (a member of the site)."""

    class Meta:
        model = Delivery
        skip_postgeneration_save = True

    alert = factory.SubFactory(AlertFactory)
    channel = factory.SubFactory(ChannelFactory)
    recipient = factory.LazyAttribute(lambda o: o.channel.user)
    tier = 1

    @factory.post_generation
    def member(self, create, extracted, **kwargs):
        """Make the recipient a member of the alert's site, as planning would have found them."""
        if create:
            SiteMembership.objects.get_or_create(
                user=self.recipient,
                site=self.alert.subject.site,
                defaults={"escalation_tier": self.tier},
            )
