"""One-time activation codes: staff issue one, the subject's phone exchanges it for a token.

A code is 10 characters of Crockford's base 32 (no I, L, O or U; 50 bits), shown once as
``XXXXX-XXXXX``. Only an HMAC-SHA256 of the normalised code, keyed from ``SECRET_KEY``, is
stored: a bare hash of a 50-bit secret could be brute-forced offline from a database copy, a keyed
one cannot without the key. Codes expire (``ACTIVATION_CODE_TTL_HOURS``), are used once (the row is
locked while it is exchanged) and a new code supersedes any unused earlier one.

Failed exchanges are rate limited by counters in the Django cache (Redis in production), not by a
DRF throttle, because only failures count: ``ACTIVATION_MAX_FAILURES`` per client address and per
subject (a used, expired or superseded code still names its subject) within
``ACTIVATION_FAILURE_WINDOW_SECONDS``. The view adds a DRF throttle on all attempts per address
(scope ``activation``), which also bounds guessing that names no subject.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from screening.audit import record_audit
from screening.models import AccessToken, ActivationCode, AuditEvent, Subject

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
CODE_LENGTH = 10
# What people mistype or read alike, folded the Crockford way.
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
_SEPARATORS = re.compile(r"[\s\-_.]")


class ActivationFailed(Exception):
    """The code is wrong, used, expired or superseded: one outcome, so nothing leaks which."""


class ActivationRateLimited(Exception):
    """Too many failed activations from this client or against this subject."""


class SubjectNotActive(Exception):
    """A withdrawn subject is given no activation code."""


@dataclass(frozen=True)
class Activation:
    """A successful exchange: the new token (clear key shown once) and its subject."""

    token: AccessToken
    key: str
    subject: Subject


def generate_code() -> str:
    """Return a new random code, formatted for reading aloud (``XXXXX-XXXXX``)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str | None:
    """Return the canonical form of a typed code, or None if it cannot be one."""
    folded = _SEPARATORS.sub("", code).upper().translate(_FOLD)
    if len(folded) != CODE_LENGTH or any(char not in ALPHABET for char in folded):
        return None
    return folded


def hash_code(code: str) -> str:
    """Return the keyed hash stored for a code (HMAC-SHA256, hex) of its normalised form."""
    key = hashlib.sha256(f"activation-code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def issue_activation_code(*, subject: Subject, actor) -> tuple[ActivationCode, str]:
    """Issue a new code for the subject; return the row and the clear code (shown once).

    Supersedes every unused earlier code of the subject; audited (without the code).
    """
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    if subject.status != Subject.Status.ACTIVE:
        raise SubjectNotActive
    now = timezone.now()
    ActivationCode.objects.filter(
        subject=subject, used_at__isnull=True, superseded_at__isnull=True
    ).update(superseded_at=now)
    code = generate_code()
    row = ActivationCode.objects.create(
        subject=subject,
        code_hash=hash_code(cast(str, normalise_code(code))),  # a generated code is canonical
        expires_at=now + timedelta(hours=settings.ACTIVATION_CODE_TTL_HOURS),
        created_by=actor,
        created_at=now,
    )
    record_audit(
        action=AuditEvent.Action.CREATE,
        obj=row,
        actor=actor,
        subject=subject,
        changes={"expires_at": row.expires_at.isoformat()},
    )
    return row, code


def _failure_keys(client: str, subject_id=None) -> list[str]:
    keys = [f"activation:failures:client:{hash_code(client)}"]
    if subject_id is not None:
        keys.append(f"activation:failures:subject:{subject_id}")
    return keys


def _is_blocked(keys: list[str]) -> bool:
    counts = cache.get_many(keys)
    return any(count >= settings.ACTIVATION_MAX_FAILURES for count in counts.values())


def _count_failure(keys: list[str]) -> None:
    window = settings.ACTIVATION_FAILURE_WINDOW_SECONDS
    for key in keys:
        cache.add(key, 0, timeout=window)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: start a new window
            cache.set(key, 1, timeout=window)


def activate(*, code: object, client: str) -> Activation:
    """Exchange a code for a subject token; raise ActivationFailed or ActivationRateLimited.

    ``client`` identifies the caller for rate limiting (its address). Only failures count.
    """
    if _is_blocked(_failure_keys(client)):
        raise ActivationRateLimited
    normalised = normalise_code(code) if isinstance(code, str) else None
    failed_subject_id = None
    if normalised is not None:
        with transaction.atomic():
            row = (
                ActivationCode.objects.select_for_update(of=("self",))
                .select_related("subject")
                .filter(code_hash=hash_code(normalised))
                .first()
            )
            if row is not None:
                if _is_blocked(_failure_keys(client, row.subject_id)):
                    raise ActivationRateLimited
                now = timezone.now()
                usable = (
                    row.used_at is None
                    and row.superseded_at is None
                    and row.expires_at > now
                    and row.subject.status == Subject.Status.ACTIVE
                )
                if usable:
                    row.used_at = now
                    row.save(update_fields=["used_at"])
                    token, key = AccessToken.issue(subject=row.subject)
                    record_audit(
                        action=AuditEvent.Action.CREATE,
                        obj=token,
                        actor_subject=row.subject,
                        subject=row.subject,
                        changes={"activation_code": str(row.pk)},
                    )
                    return Activation(token=token, key=key, subject=row.subject)
                failed_subject_id = row.subject_id
    _count_failure(_failure_keys(client, failed_subject_id))
    raise ActivationFailed


@transaction.atomic
def revoke_subject_tokens(*, subject: Subject, actor) -> int:
    """Revoke every active token of the subject (a lost phone); return how many. Audited."""
    count = AccessToken.objects.active().filter(subject=subject).update(revoked_at=timezone.now())
    record_audit(
        action=AuditEvent.Action.UPDATE,
        obj=subject,
        actor=actor,
        subject=subject,
        changes={"tokens_revoked": count},
        reason="subject tokens revoked",
    )
    return count
