"""Alert deliveries. A stub: the delivery work replaces this file with the real fan-out."""

from .models import Alert


def plan_deliveries(*, alert: Alert, tier: int = 1) -> list:
    """Create one Delivery per recipient and channel of the alert's site at this tier and send them after commit"""  # noqa: E501
    return []
