"""How an alert's deliveries are shown in the alert detail (``GET /api/v1/alerts/{id}/``).

For the alert API to embed: ``DeliverySerializer(alert.deliveries.select_related("channel"),
many=True)``. Shows the channel's kind, not its address.
"""

from rest_framework import serializers

from ..models import Delivery


class DeliverySerializer(serializers.ModelSerializer):
    channel = serializers.UUIDField(source="channel_id", read_only=True)
    kind = serializers.CharField(source="channel.kind", read_only=True)
    recipient = serializers.CharField(source="recipient_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "recipient",
            "channel",
            "kind",
            "tier",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields
