"""Bearer-token authentication for staff and for subjects' phones, and who may use what.

A staff token authenticates as its user. A subject token authenticates as a ``SubjectPrincipal``
(not a Django user), so code that expects a staff user never mistakes a subject for one; in both
cases ``request.auth`` is the ``AccessToken``. The default permission (``IsStaffToken``) refuses
subject tokens everywhere; the subject's own endpoints opt in with ``IsSubject``.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import AccessToken, Subject
from .tokens import hash_secret

# ``last_used_at`` is recorded to this resolution (writing it on every request cost a third of a
# simple read's time).
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, eq=False)
class SubjectPrincipal:
    """The subject a phone's token belongs to, standing in for ``request.user``."""

    subject: Subject
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __str__(self) -> str:
        return f"subject {self.subject.pk}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate `Authorization: Bearer <token>` against stored token hashes."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = (
            AccessToken.objects.active()
            .select_related("user", "subject__site")
            .filter(key_hash=hash_secret(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.user_id is not None:
            if not token.user.is_active:
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            principal = token.user
        else:
            # A withdrawn subject's phone loses access at once; their data stays.
            if token.subject.status != Subject.Status.ACTIVE:
                raise exceptions.AuthenticationFailed("Invalid or revoked token.")
            principal = SubjectPrincipal(subject=token.subject)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            # At most one write a minute per token: a read stays a read.
            AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return principal, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
