"""The subject's phone pages: activation, open questionnaires, submission (Django templates).

They work without JavaScript (one form with every item); with JavaScript the same form shows one
item per screen, keeps the answers on the device and resends with the same Idempotency-Key.
"""
