"""Factories of the rows deliveries need: sites, members, subjects, profiles, alerts, channels."""

import datetime

import factory
from django.contrib.auth import get_user_model

from notifications.models import Alert, Channel, Delivery
from screening.models import MonitoringProfile, Site, SiteMembership, Subject


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"clinician{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.example.org")
    password = factory.django.Password("clinician-pass-123")
    is_active = True


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.LazyAttribute(lambda s: f"Site {s.code}")
    timezone = "Africa/Johannesburg"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SiteMembership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)
    role = SiteMembership.Role.CLINICIAN
    escalation_tier = 1


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject

    site = factory.SubFactory(SiteFactory)
    study_id = factory.Sequence(lambda n: f"TB-{n:04d}")
    timezone = "Africa/Johannesburg"
    treatment_start = datetime.date(2025, 1, 6)


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonitoringProfile
        django_get_or_create = ("drug", "version")

    drug = "cycloserine"
    version = 1


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    subject = factory.SubFactory(SubjectFactory)
    profile = factory.SubFactory(ProfileFactory)
    category = Alert.Category.DISCONTINUATION
    severity = Alert.Severity.URGENT
    rules = ["D1"]
    reasons = [
        {
            "rule": "D1",
            "text": "PHQ-9 item 9 (thoughts of self-harm) answered 2: urgent review.",
            "inputs": {"phq9_item9": 2},
        }
    ]
    recommended_actions = ["Assess suicide risk today.", "Consider stopping cycloserine."]


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    user = factory.SubFactory(UserFactory)
    kind = Channel.Kind.EMAIL
    address = factory.LazyAttribute(lambda c: c.user.email)
    signing_secret = ""


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    alert = factory.SubFactory(AlertFactory)
    channel = factory.SubFactory(ChannelFactory)
    recipient = factory.LazyAttribute(lambda d: d.channel.user)
    tier = 1
