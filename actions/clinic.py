"""The clinic's settings (clinic.yml), each overridable by an environment variable CLINIC_<FIELD>
(lists as space-separated values)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Tuple

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
    website_origins: Tuple[str, ...]

    def template_values(self) -> Dict[str, str]:
        """The values for the placeholders in answers, replies and domain responses."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "clinic_booking_url": self.booking_url,
            "emergency_number": self.emergency_number,
            "crisis_line": self.crisis_line,
        }


def _setting(settings: Dict[str, Any], name: str) -> Any:
    default = settings[name]
    value = os.environ.get(f"CLINIC_{name.upper()}")
    if isinstance(default, list):
        return tuple(value.split() if value is not None else default)
    return value if value is not None else str(default)


@lru_cache(maxsize=1)
def load_clinic() -> Clinic:
    settings = yaml.safe_load(SETTINGS_PATH.read_text(encoding="utf-8"))
    return Clinic(**{field.name: _setting(settings, field.name) for field in fields(Clinic)})
