"""Who may call the staff API."""

from rest_framework.permissions import BasePermission

from .selectors import is_admin


class IsStaffUser(BasePermission):
    """A staff user authenticated with a staff token; a subject's token never passes."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user is not None
            and getattr(user, "is_authenticated", False)
            and request.auth is not None
            and getattr(request.auth, "user_id", None) is not None
        )


class IsAdmin(IsStaffUser):
    """A staff token of an admin (an active is_staff user)."""

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and is_admin(request.user)


class IsAdminForWrites(IsStaffUser):
    """Any staff user may read; only admins may write."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in ("GET", "HEAD", "OPTIONS") or is_admin(request.user)
