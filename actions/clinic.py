"""The clinic's settings (clinic.yml), each overridable by an environment variable CLINIC_<FIELD>."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Dict

import yaml

SETTINGS_PATH = Path(__file__).resolve().parent.parent / "clinic.yml"


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    booking_url: str
    emergency_number: str
    crisis_line: str
    article_title: str
    article_url: str

    def template_values(self) -> Dict[str, str]:
        """The values for the placeholders in answers, replies and domain responses."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "clinic_booking_url": self.booking_url,
            "emergency_number": self.emergency_number,
            "crisis_line": self.crisis_line,
        }


@lru_cache(maxsize=1)
def load_clinic() -> Clinic:
    settings = yaml.safe_load(SETTINGS_PATH.read_text(encoding="utf-8"))
    return Clinic(
        **{
            field.name: os.environ.get(f"CLINIC_{field.name.upper()}", str(settings[field.name]))
            for field in fields(Clinic)
        }
    )
