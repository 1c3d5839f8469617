"""Research exports: CSV datasets with a data dictionary, FHIR R4 resources and Bulk Data NDJSON,
the counting-process (time-to-event) table for Cox models, the synthetic cohort and the
missed-data report.

It lives in ``notifications`` because alerts (and the "first discontinuation alert" event) are
notifications models and imports point one way: questionnaires <- screening <- notifications.
Pure parts (``csvstream``, ``dictionary``, ``survival``, ``cohort``, ``fhir``'s builders and
``missed.missed_runs``) take plain values and import no Django.
"""
