from django.db import models


class Token(models.Model):
    key_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        app_label = "baseline"

    def __str__(self) -> str:
        return self.key_hash


class Row(models.Model):
    token = models.ForeignKey(Token, on_delete=models.CASCADE)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "baseline"

    def __str__(self) -> str:
        return str(self.pk)
