"""Who is screened and what they answered.

One module per part of the domain; everything is re-exported here so other code imports
``screening.models`` only.
"""

from .access import AccessToken, ActivationCode
from .audit import AuditEvent
from .outbox import EvaluationRequest
from .responses import Amendment, Response
from .schedules import Assessment, Schedule, ScheduleEntry
from .staff import StaffProfile
from .subjects import RegimenChange, Site, SiteMembership, Subject
from .tdm import CmaxResult, MonitoringProfile

__all__ = [
    "AccessToken",
    "Amendment",
    "ActivationCode",
    "Assessment",
    "AuditEvent",
    "CmaxResult",
    "EvaluationRequest",
    "MonitoringProfile",
    "RegimenChange",
    "Response",
    "Schedule",
    "ScheduleEntry",
    "Site",
    "StaffProfile",
    "SiteMembership",
    "Subject",
]
