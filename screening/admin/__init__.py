"""Django admin for the screening app, one module per part of the domain.

Django's autodiscovery imports this package; importing the modules registers their admins.
Writes of clinical data go through the same services as the API, so they are audited.
"""

from . import audited, records, schedules, sites, subjects, tdm  # noqa: F401 - registers admins
