"""Audit every Django-admin change of who sees data and who is alerted (issue 10).

``AuditedAdminMixin`` records, like an API change, each add, change and delete made in the admin
(``save_model``, ``delete_model``, ``delete_queryset``), of inline rows (``save_formset``: a
site's memberships and escalation tiers) and of many-to-many rights (``save_related``: a user's
groups and permissions), with the admin as actor, the old and new values of the changed fields,
and the site the change concerns (so it appears in the audit of that site's subjects).
Passwords are never written: only that they changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models, transaction

from screening.audit import audit_value, record_audit

SECRET_FIELDS = {"password", "signing_secret"}
ADMIN_REASON = "Django admin"


def field_values(obj: models.Model) -> dict[str, Any]:
    """Return the JSON-ready values of an object's concrete fields (secrets masked)."""
    values = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        # A secret is compared by its hash within this request and shown as "***".
        secret = field.name in SECRET_FIELDS
        values[field.attname] = {"hash": hash(value)} if secret else audit_value(value)
    return values


def stored_values(obj: models.Model) -> dict[str, Any] | None:
    """Return the values of the stored row of ``obj`` (before a change), or None if new."""
    if obj.pk is None:
        return None
    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    return field_values(stored) if stored is not None else None


def diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Return {"old": {...}, "new": {...}} of the fields that differ (secrets: "changed")."""
    old, new = old or {}, new or {}
    names = [name for name in {**old, **new} if old.get(name) != new.get(name)]

    def shown(values, name):
        value = values.get(name)
        return "***" if isinstance(value, dict) and "hash" in value else value

    return {
        "old": {name: shown(old, name) for name in names} if old else None,
        "new": {name: shown(new, name) for name in names} if new else None,
    }


def site_of(obj: models.Model):
    """Return the site id a change concerns: a membership's site, a site itself, else None."""
    from screening.models import Site

    if isinstance(obj, Site):
        return obj.pk
    return getattr(obj, "site_id", None)


def audit(request, obj, action: str, old, new, extra: dict | None = None) -> None:
    changes = diff(old, new) | (extra or {})
    if action == "update" and not any(changes.get(key) for key in ("old", "new", "m2m")):
        return
    record_audit(
        action=action,
        obj=obj,
        actor=request.user,
        changes=changes,
        reason=ADMIN_REASON,
        site=site_of(obj),
    )


class AuditedAdminMixin(admin.ModelAdmin):
    """Record each admin write in the audit trail (see the module docstring)."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            old = stored_values(obj) if change else None
            super().save_model(request, obj, form, change)
            audit(request, obj, "update" if change else "create", old, field_values(obj))

    def delete_model(self, request, obj):
        with transaction.atomic():
            old = field_values(obj)
            pk = obj.pk
            super().delete_model(request, obj)
            obj.pk = pk
            audit(request, obj, "delete", old, None)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            rows = [(obj, field_values(obj)) for obj in queryset]
            super().delete_queryset(request, queryset)
            for obj, old in rows:
                audit(request, obj, "delete", old, None)

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            before = {}
            for inline_form in formset.forms:
                instance = inline_form.instance
                if instance.pk is not None:
                    before[instance.pk] = stored_values(instance)
            super().save_formset(request, form, formset, change)
            for obj in formset.new_objects:
                audit(request, obj, "create", None, field_values(obj))
            for obj, _fields in formset.changed_objects:
                audit(request, obj, "update", before.get(obj.pk), field_values(obj))
            for obj in formset.deleted_objects:
                old = before.get(obj.pk) or field_values(obj)
                if obj.pk is None:
                    obj.pk = (old or {}).get("id")
                audit(request, obj, "delete", old, None)

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        m2m = [field.name for field in obj._meta.many_to_many if field.name in form.fields]
        before = {name: m2m_ids(obj, name) for name in m2m} if change else {}
        super().save_related(request, form, formsets, change)
        after = {name: m2m_ids(obj, name) for name in m2m}
        changed = {
            name: {"old": before.get(name, []), "new": after[name]}
            for name in m2m
            if before.get(name, []) != after[name]
        }
        if changed:
            audit(request, obj, "update", None, None, {"m2m": changed})


def m2m_ids(obj, name: str) -> list[str]:
    if obj.pk is None:
        return []
    return sorted(str(pk) for pk in getattr(obj, name).values_list("pk", flat=True))


User = get_user_model()


class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    """Users: active, staff, superuser, groups and permissions are rights; all audited."""


class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """Groups carry permissions (rights)."""


for model, model_admin in ((User, AuditedUserAdmin), (Group, AuditedGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
