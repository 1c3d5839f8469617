"""The admin app with the project's site (config/admin_site.py, imported once apps are ready)."""

from django.contrib.admin.apps import AdminConfig


class ScreeningAdminConfig(AdminConfig):
    default_site = "config.admin_site.ScreeningAdminSite"
