"""Request examples of the API's write operations, shown in the OpenAPI docs.

The first-session ones are the README's (``tests/e2e/test_readme.py`` runs those);
``tests/config/test_schema.py`` checks every example against its request schema.
"""

from drf_spectacular.utils import OpenApiExample


def example(name: str, value: dict, description: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, description=description, request_only=True)


ENTRY = {
    "instrument": "PHQ-9",
    "offset_days": 0,
    "repeat_every_days": 14,
    "until_day": 168,
    "time_of_day": "09:00",
    "window_hours": 72,
    "reminder_hours": [24, 48],
}
PHQ9_ANSWERS = {
    "phq9_1": 1,
    "phq9_2": 1,
    "phq9_3": 1,
    "phq9_4": 1,
    "phq9_5": 0,
    "phq9_6": 0,
    "phq9_7": 0,
    "phq9_8": 0,
    "phq9_9": 0,
    "phq9_10": 1,
}
NEURO_ANSWERS = {
    "r_pain": 2,
    "r_pins_needles": 0,
    "r_numbness": 0,
    "l_pain": 0,
    "l_pins_needles": 0,
    "l_numbness": 0,
}
REGIMEN = {
    "drug": "cycloserine",
    "dose_mg_per_day": 750,
    "pyridoxine_mg_per_day": 50,
    "isoniazid": False,
    "ethionamide": True,
    "alcohol_use": False,
}

TOKEN = [example("Sign in", {"username": "dr.ndlovu", "password": "Clinic-pass-9032"})]
USER = [
    example(
        "A clinician",
        {
            "username": "dr.ndlovu",
            "password": "Clinic-pass-9032",
            "email": "ndlovu@clinic.example.org",
            "phone": "+27 82 123 4567",
        },
        "The phone needs its country code; it is stored in E.164 (+27821234567).",
    )
]
SITE = [
    example(
        "A clinic",
        {"code": "cpt", "name": "Cape Town TB clinic", "timezone": "Africa/Johannesburg"},
    ),
]
SITE_UPDATE = [
    example(
        "Set the crisis message",
        {"crisis_message": "If you think of harming yourself, call the clinic now: 021 000 0000."},
        "Shown to a subject after PHQ-9 item 9 is answered 1 or more.",
    )
]
MEMBERSHIP = [
    example(
        "A first-tier clinician",
        {"user": "0b6c1f5e-3c1d-4a8e-9f57-2d51a8b8c0a1", "role": "clinician", "escalation_tier": 1},
    )
]
SCHEDULE = [
    example(
        "PHQ-9, GAD-7 and NEURO-SX every 14 days for 24 weeks",
        {
            "name": "Standard",
            "site": "cpt",
            "is_default": True,
            "entries": [
                ENTRY,
                {**ENTRY, "instrument": "GAD-7"},
                {**ENTRY, "instrument": "NEURO-SX"},
            ],
        },
        "A repeating entry (repeat_every_days) needs until_day, its last day.",
    ),
    example(
        "One baseline PHQ-9",
        {
            "name": "Baseline only",
            "site": "cpt",
            "entries": [{**ENTRY, "repeat_every_days": None, "until_day": None}],
        },
    ),
]
SCHEDULE_EDIT = [
    example(
        "PHQ-9 weekly from now on (entries matched by instrument and offset_days)",
        {
            "entries": [
                {**ENTRY, "repeat_every_days": 7},
                {**ENTRY, "instrument": "GAD-7"},
                {**ENTRY, "instrument": "NEURO-SX"},
            ]
        },
        "Entries without id are matched to the current ones by instrument and offset_days; "
        "only assessments that have not opened yet change.",
    ),
    example(
        "Change one entry by its id",
        {"entries": [{**ENTRY, "id": "5b0e8f0e-8c3e-4a55-9d8e-6f1a2b3c4d5e", "window_hours": 48}]},
    ),
    example("Rename", {"name": "Standard (2026)"}),
]
SUBJECT = [
    example(
        "Enrol on the site's default schedule",
        {
            "site": "cpt",
            "study_id": "CPT-001",
            "treatment_start": "2026-03-02",
            "timezone": "Africa/Johannesburg",
            "language": "en",
            "sex": "female",
            "year_of_birth": 1990,
            "hiv_positive": True,
            "renal_impairment": False,
            "contact": {"phone": "+27 82 555 0199"},
            "regimen": REGIMEN,
        },
    )
]
SUBJECT_UPDATE = [
    example("Moved to another time zone", {"timezone": "Africa/Harare"}),
    example("Remove the contact details", {"contact": {"email": "", "phone": ""}}),
]
WITHDRAW = [example("Withdrawn", {"reason": "Transferred to another clinic."})]
REGIMEN_CHANGE = [
    example(
        "Dose reduced",
        {**REGIMEN, "dose_mg_per_day": 500, "effective_from": "2026-03-16T08:00:00+02:00"},
    )
]
CMAX = [
    example(
        "A 2-hour sample",
        {
            "value": "38",
            "unit": "ug/mL",
            "sampled_at": "2026-03-16T10:00:00+02:00",
            "hours_post_dose": "2",
            "dose_mg": 750,
            "lab_reference": "LAB-0001",
        },
    )
]
STAFF_RESPONSE = [
    example(
        "A paper PHQ-9",
        {
            "instrument": "PHQ-9",
            "answers": PHQ9_ANSWERS,
            "completed_at": "2026-03-16T09:30:00+02:00",
            "source": "paper",
        },
    ),
    example(
        "A BPNS examination",
        {
            "instrument": "BPNS",
            "answers": {
                **NEURO_ANSWERS,
                "vibration_r": 15,
                "vibration_l": 15,
                "reflex_r": "normal",
                "reflex_l": "normal",
            },
            "completed_at": "2026-03-16T10:00:00+02:00",
            "source": "examination",
        },
    ),
]
PHONE_RESPONSE = [
    example("PHQ-9 answers", {"answers": PHQ9_ANSWERS}, "Send an Idempotency-Key header too."),
    example("NEURO-SX answers", {"answers": NEURO_ANSWERS}),
]
ACTIVATE = [example("The code from the clinic", {"code": "7K2M-9QXD-4P"})]
PROFILE = [
    example(
        "The label's ceiling (30 µg/mL) instead of WHO 2014",
        {"name": "cycloserine, label ceiling", "cmax_ceiling_source": "label"},
        "Fields left out are copied from the current version.",
    ),
    example("Escalate after 15 minutes", {"escalation_minutes": 15}),
]
AMENDMENT = [
    example(
        "Correct a transcription slip",
        {"answers": {"phq9_2": 2}, "reason": "Paper form re-read: item 2 was ticked 2, not 1."},
    )
]
CMAX_VOID = [example("Withdraw a result", {"reason": "Sample mislabelled by the lab."})]
CMAX_CORRECTION = [
    example(
        "80 typed for 8.0",
        {"value": "8.0", "unit": "ug/mL", "reason": "Typed 80 for 8.0; the lab report says 8.0."},
    )
]
