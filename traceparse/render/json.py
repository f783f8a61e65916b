"""The JSON contract (documented in the README): ``report.data``, strict JSON, stable key order."""
from __future__ import annotations

import json


def render(report) -> str:
    return json.dumps(report.data, indent=2, allow_nan=False) + "\n"
