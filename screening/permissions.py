"""Who may call which endpoint: staff tokens, admins, and subjects' phone tokens."""

from rest_framework.permissions import BasePermission

from .authentication import SubjectPrincipal
from .models import AccessToken
from .selectors import is_admin


def _token(request) -> AccessToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, AccessToken) else None


class IsStaffUser(BasePermission):
    """An active staff user's token (the default: a subject's phone token never passes)."""

    message = "A staff token is required."

    def has_permission(self, request, view) -> bool:
        token = _token(request)
        return bool(
            token is not None
            and token.user_id is not None
            and request.user is not None
            and request.user.is_active
        )


class IsAdmin(IsStaffUser):
    """A staff token of an admin (an active is_staff user)."""

    message = "Only administrators may do this."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and is_admin(request.user)


class IsAdminForWrites(IsStaffUser):
    """Any staff user may read; only admins may write."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in ("GET", "HEAD", "OPTIONS") or is_admin(request.user)


class IsSubject(BasePermission):
    """A subject's phone token (the `/me/` endpoints)."""

    def has_permission(self, request, view) -> bool:
        token = _token(request)
        return bool(
            token is not None
            and token.subject_id is not None
            and isinstance(request.user, SubjectPrincipal)
        )
