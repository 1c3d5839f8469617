"""Who can be told: staff alert channels, the channels usable for a user, and escalation tiers."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, QuerySet

from notifications.models import Channel
from screening.audit import record_audit
from screening.models import SiteMembership
from screening.phones import to_e164

logger = logging.getLogger(__name__)


@transaction.atomic
def add_channel(*, user, kind: str, address: str, actor) -> tuple[Channel, str, bool]:
    """Add a channel to a user, or re-enable the same one if it was broken or inactive.

    Returns the channel, the clear webhook signing secret (shown once; "" for other kinds) and
    whether the channel is new. Raises ``ChannelExists`` if the same channel is already in use.
    Audited. An SMS address is checked and stored in E.164 (``screening.phones``, the rule of
    users' phones too); an invalid one raises ``InvalidPhoneNumber``.
    """
    if kind == Channel.Kind.SMS:
        address = to_e164(address)
    secret = secrets.token_urlsafe(32) if kind == Channel.Kind.WEBHOOK else ""
    channel = (
        Channel.objects.select_for_update().filter(user=user, kind=kind, address=address).first()
    )
    if channel is not None:
        if channel.active and channel.broken_at is None and not channel.implicit:
            raise ChannelExists(channel)
        was_implicit = channel.implicit
        channel.active, channel.broken_at, channel.last_error = True, None, ""
        channel.implicit, channel.signing_secret = False, secret
        channel.save(
            update_fields=["active", "implicit", "broken_at", "last_error", "signing_secret"]
        )
        record_audit(action="update", obj=channel, actor=actor, changes={"enabled": True})
        return channel, secret, was_implicit
    try:
        with transaction.atomic():  # a savepoint: a concurrent identical add wins the race
            channel = Channel.objects.create(
                user=user, kind=kind, address=address, signing_secret=secret
            )
    except IntegrityError:
        raise ChannelExists(Channel.objects.get(user=user, kind=kind, address=address)) from None
    record_audit(action="create", obj=channel, actor=actor, changes={"kind": kind})
    return channel, secret, True


@transaction.atomic
def reenable_channel(*, channel: Channel, actor) -> None:
    """Make a broken or inactive channel usable again. Audited.

    ``planning.enable_channel`` also sends again what failed on it; call that one.
    """
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    was_active, was_broken_at = channel.active, channel.broken_at
    channel.active, channel.broken_at, channel.last_error = True, None, ""
    channel.save(update_fields=["active", "broken_at", "last_error"])
    record_audit(
        action="update",
        obj=channel,
        actor=actor,
        changes={
            "enabled": True,
            "was_active": was_active,
            "was_broken_at": was_broken_at.isoformat() if was_broken_at else None,
        },
    )


class ChannelExists(Exception):
    """The user already has this channel, active and working."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(str(channel.pk))
        self.channel = channel


def usable_channels(user, *, exclude=None) -> list[Channel]:
    """Return the user's configured, usable channels (but ``exclude``), or their implicit email.

    A member without any usable configured channel receives alerts by email to their user address
    (docs/api.md, "Members receive that site's alerts by email ... unless other channels are
    configured"); that address gets an ``implicit`` Channel row so that a delivery can point at
    it, and is not used once the user configures a channel. Uses prefetched channels if any.
    """
    channels = [
        c
        for c in user.alert_channels.all()
        if c.active and c.broken_at is None and not c.implicit and c.pk != exclude
    ]
    if channels:
        return channels
    if not user.email:
        logger.error(
            "alert recipient has no usable channel and no email address",
            extra={"user_id": user.pk},
        )
        return []
    channel, _ = Channel.objects.get_or_create(
        user=user, kind=Channel.Kind.EMAIL, address=user.email, defaults={"implicit": True}
    )
    if channel.pk == exclude:
        return []
    if not channel.active or channel.broken_at is not None:
        logger.error(
            "alert recipient's only email channel is inactive or broken",
            extra={"user_id": user.pk, "channel_id": str(channel.pk)},
        )
        return []
    return [channel]


def clinicians(site_id, *, tier: int | None = None) -> QuerySet:
    """Return the active users with the clinician role at a site (at one tier if given)."""
    members = SiteMembership.objects.filter(
        site_id=site_id, role=SiteMembership.Role.CLINICIAN, user__is_active=True
    )
    if tier is not None:
        members = members.filter(escalation_tier=tier)
    return get_user_model().objects.filter(pk__in=members.values("user_id"))


def has_active_clinician(site_id) -> bool:
    """Tell whether anyone at the site can act on a clinical alert."""
    return clinicians(site_id).exists()


def first_tier(site_id) -> int:
    """Return the lowest escalation tier with an active clinician at a site (1 if none).

    A site whose tier-1 clinicians all left must not hold an urgent alert back until escalation;
    coordinators do not count (they are never the ones an alert waits for).
    """
    lowest = SiteMembership.objects.filter(
        site_id=site_id, role=SiteMembership.Role.CLINICIAN, user__is_active=True
    ).aggregate(tier=Min("escalation_tier"))["tier"]
    return lowest or 1


def email_channel(user, *, exclude=None) -> Channel | None:
    """Return a working email channel of a user (configured first, else their user email)."""
    for channel in user.alert_channels.filter(
        kind=Channel.Kind.EMAIL, active=True, broken_at__isnull=True
    ).order_by("implicit", "created_at"):
        if channel.pk != exclude:
            return channel
    if not user.email:
        return None
    channel, _ = Channel.objects.get_or_create(
        user=user, kind=Channel.Kind.EMAIL, address=user.email, defaults={"implicit": True}
    )
    if channel.pk == exclude or not channel.active or channel.broken_at is not None:
        return None
    return channel


def contact_fingerprint(kind: str, contact: str) -> str:
    """Return a keyed fingerprint of a subject's contact: names the channel without revealing it."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{kind}:{contact.strip().lower()}".encode(), hashlib.sha256
    ).hexdigest()
    return f"contact:{digest[:32]}"


def subject_channels(subject, *, exclude=None) -> list[Channel]:
    """Return a subject's usable reminder channels, email first, then SMS (but ``exclude``).

    The contact stays encrypted in ``screening``; the channel row holds its fingerprint, so a
    changed contact gets a new (healthy) channel and a broken one stays broken for the old value.
    A contact that cannot be decrypted gives no channel (logged).
    """
    from screening import crypto

    channels = []
    for kind, has, attribute in (
        (Channel.Kind.EMAIL, subject.has_contact_email, "contact_email"),
        (Channel.Kind.SMS, subject.has_contact_phone, "contact_phone"),
    ):
        if not has:
            continue
        try:
            contact = getattr(subject, attribute)
        except crypto.DecryptionError:
            logger.error(
                "subject contact cannot be decrypted",
                extra={"study_id": subject.study_id, "kind": kind},
            )
            continue
        if not contact:
            continue
        channel, _ = Channel.objects.get_or_create(
            subject=subject, kind=kind, address=contact_fingerprint(kind, contact)
        )
        if channel.active and channel.broken_at is None and channel.pk != exclude:
            channels.append(channel)
    return channels


def next_tier(site_id, *, after: int) -> int | None:
    """Return the next escalation tier above ``after`` with an active clinician, or None."""
    return (
        SiteMembership.objects.filter(
            site_id=site_id,
            role=SiteMembership.Role.CLINICIAN,
            escalation_tier__gt=after,
            user__is_active=True,
        )
        .order_by("escalation_tier")
        .values_list("escalation_tier", flat=True)
        .first()
    )


def fallback_recipients() -> QuerySet:
    """Return who receives a site's alerts when it has no active clinician: the study's admins.

    Active superusers and staff admins (``is_staff``) of the deployment: they can reach the
    site, or act themselves. Documented in README "Who is paged".
    """
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(is_staff=True))
    )


def may_receive(user_id, site_id) -> bool:
    """Tell whether a planned recipient may still be sent a site's alert.

    A member of the site; or, while the site has no active clinician, a fallback recipient.
    """
    if SiteMembership.objects.filter(user_id=user_id, site_id=site_id).exists():
        return True
    return not has_active_clinician(site_id) and fallback_recipients().filter(pk=user_id).exists()


def alert_recipients(site, *, tier: int) -> tuple[list, str]:
    """Return the users to page for an alert of a site at a tier, and a note on why if unusual.

    The tier's active clinicians; with none at the site at all, the fallback recipients (the
    note says so). Coordinators of the tier are added only where the site's
    ``inform_coordinators`` is on, and never alone.
    """
    users = list(clinicians(site.pk, tier=tier))
    note = ""
    if not users and not has_active_clinician(site.pk):
        users = list(fallback_recipients())
        note = (
            f"Site {site.code} has no active clinician: this alert is sent to you as a study "
            "administrator. Make sure a clinician at the site acts on it today."
        )
    if users and site.inform_coordinators:
        coordinators = get_user_model().objects.filter(
            is_active=True,
            site_memberships__site_id=site.pk,
            site_memberships__role=SiteMembership.Role.COORDINATOR,
            site_memberships__escalation_tier=tier,
        )
        users += [user for user in coordinators if user not in users]
    return users, note
