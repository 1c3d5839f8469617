"""Staff sign-in with a per-account limit: too many wrong passwords lock the account for a while.

The DRF throttle on the view limits attempts per client address; that alone lets an attacker
spread guesses over many addresses. So failures are also counted per username (normalised,
keyed hash; also for usernames that do not exist, so answers never tell which exist):
``STAFF_LOGIN_MAX_FAILURES`` within ``STAFF_LOGIN_LOCKOUT_SECONDS`` lock the account until the
window ends: every attempt, even with the right password, gets 429 saying the account is locked.
The attempt that locks an existing account is audited and, after commit, the task
``screening.notify_staff_lockout`` emails the user and every active superuser with an address.
A successful sign-in clears the count.
"""

import hashlib
import hmac
import logging

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction

from config.celery_app import app
from screening.audit import record_audit
from screening.models import AuditEvent

logger = logging.getLogger(__name__)

LOCKOUT_TASK = "screening.notify_staff_lockout"


class InvalidCredentials(Exception):
    """Unknown username or wrong password."""


class AccountLocked(Exception):
    """Too many failed sign-ins for this username: refused until the window ends."""


def _key(username: str) -> str:
    secret = hashlib.sha256(f"staff-login:{settings.SECRET_KEY}".encode()).digest()
    digest = hmac.new(secret, username.strip().casefold().encode(), hashlib.sha256).hexdigest()
    return f"staff-login:failures:{digest}"


def sign_in(request, *, username: str, password: str):
    """Return the authenticated user; raise InvalidCredentials or AccountLocked."""
    key = _key(username)
    limit = settings.STAFF_LOGIN_MAX_FAILURES
    if (cache.get(key) or 0) >= limit:
        raise AccountLocked
    user = authenticate(request, username=username, password=password)
    if user is not None:
        cache.delete(key)
        return user
    cache.add(key, 0, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)  # window from first failure
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
        failures = 1
    if failures == limit:
        _locked(username)
        raise AccountLocked
    raise InvalidCredentials


def _locked(username: str) -> None:
    user = get_user_model().objects.filter(username=username).first()
    logger.warning(
        "staff account locked after failed sign-ins", extra={"user_id": getattr(user, "pk", None)}
    )
    if user is None:
        return
    with transaction.atomic():
        record_audit(
            action=AuditEvent.Action.UPDATE,
            obj=user,
            changes={"locked_for_seconds": settings.STAFF_LOGIN_LOCKOUT_SECONDS},
            reason=f"{settings.STAFF_LOGIN_MAX_FAILURES} failed sign-ins: account locked",
        )
        user_id = user.pk
        transaction.on_commit(lambda: _send_notice(user_id))


def _send_notice(user_id) -> None:
    try:
        app.send_task(LOCKOUT_TASK, args=[user_id], retry=False)
    except Exception as exc:  # broker down: the audit event stays; the lockout itself holds
        logger.warning("lockout notice not sent", extra={"error": type(exc).__name__})


def notify_lockout(user_id) -> int:
    """Email the locked user and the active superusers; return how many messages were sent."""
    model = get_user_model()
    user = model.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    minutes = max(1, settings.STAFF_LOGIN_LOCKOUT_SECONDS // 60)
    subject = f"Sign-in locked for {user.get_username()}"
    body = (
        f"{settings.STAFF_LOGIN_MAX_FAILURES} wrong passwords were entered for the account "
        f"{user.get_username()}. Sign-in to it is refused for {minutes} minutes.\n\n"
        "If this was not you, tell an administrator: someone may be guessing the password."
    )
    admins = list(
        model.objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .exclude(pk=user.pk)
        .values_list("email", flat=True)
    )
    sent = 0
    if user.email:
        sent += send_mail(subject, body, None, [user.email])
    if admins:
        sent += send_mail(f"[admin] {subject}", body, None, admins)
    return sent
