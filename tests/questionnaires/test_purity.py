"""The questionnaires core stays pure: importing it loads no Django."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # starts a Python subprocess


def test_core_modules_import_without_django():
    code = (
        "import sys\n"
        "import questionnaires.definitions, questionnaires.fhir, questionnaires.scoring\n"
        "import questionnaires.validation\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout == "[]\n"
