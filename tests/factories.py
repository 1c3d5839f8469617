"""factory_boy factories of the staff side: sites, users, memberships, subjects, schedules."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from screening.models import (
    Assessment,
    RegimenChange,
    Schedule,
    ScheduleEntry,
    Site,
    SiteMembership,
    Subject,
)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    timezone = "Africa/Johannesburg"
    crisis_message = "Call the clinic on 0800 000 000."


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "staff-pass-123")
    is_staff = False


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SiteMembership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = SiteMembership.Role.CLINICIAN
    escalation_tier = 1


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


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject

    site = factory.SubFactory(SiteFactory)
    study_id = factory.Sequence(lambda n: f"S-{n:04d}")
    timezone = "Africa/Johannesburg"
    language = "en"
    treatment_start = factory.LazyFunction(lambda: timezone.now().date())
    schedule = None


class RegimenChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegimenChange

    subject = factory.SubFactory(SubjectFactory)
    effective_from = factory.LazyFunction(timezone.now)
    drug = RegimenChange.Drug.CYCLOSERINE
    dose_mg_per_day = 750
    pyridoxine_mg_per_day = 50


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    subject = factory.SubFactory(SubjectFactory)
    schedule_entry = factory.SubFactory(
        ScheduleEntryFactory, schedule__site=factory.SelfAttribute("...subject.site")
    )
    occurrence = factory.Sequence(lambda n: n)
    instrument_code = factory.LazyAttribute(lambda o: o.schedule_entry.instrument_code)
    opens_at = factory.LazyFunction(timezone.now)
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + dt.timedelta(hours=72))
    status = Assessment.Status.OPEN
