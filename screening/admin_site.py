"""The Django admin site: admins as in the API, and site members limited to their sites.

Who gets in: active admins (``is_staff``, who see everything, as in the API) and active members
of a site (clinicians and coordinators), who see only their sites' data, exactly as in the API:
another site's object is "not found". Each model admin says how its rows reach a site
(``screening.admin.base.SiteScopedAdmin``). ``config.apps`` makes it the default admin site.
"""

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError


def is_site_member(user) -> bool:
    from screening.models import SiteMembership

    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and SiteMembership.objects.filter(user=user).exists()
    )


class MemberAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if user.is_active and (user.is_staff or is_site_member(user)):
            return
        raise ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={"username": self.username_field.verbose_name},
        )


class ScreeningAdminSite(AdminSite):
    site_header = "Cycloserine neurotoxicity screening"
    site_title = "Screening admin"
    login_form = MemberAuthenticationForm

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_staff or is_site_member(user)))
