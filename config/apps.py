"""The admin app with the project's site (screening/admin_site.py, imported once apps are ready)."""

from django.contrib.admin.apps import AdminConfig


class ScreeningAdminConfig(AdminConfig):
    default_site = "screening.admin_site.ScreeningAdminSite"
