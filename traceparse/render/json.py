"""The JSON contract (documented in the README): ``report.data``, strict JSON, stable key order.

Every report's JSON opens with what it is, which contract it keeps and which traceparse wrote it:
``{"report": ..., "schema": 2, "traceparse_version": "...", ...}``, stamped here for all reports.
"""
from __future__ import annotations

from .. import __version__
from ..reports.result import SCHEMA
from ..reports._native import dumps


def render(report) -> str:
    data = dict(report.data)
    head = {"report": data.pop("report", report.kind), "schema": SCHEMA, "traceparse_version": __version__}
    rest = {k: v for k, v in data.items() if k not in head}  # a report rebuilt from saved JSON is restamped
    return dumps({**head, **rest}) + "\n"  # json.dumps(..., indent=2, allow_nan=False)'s text, natively (py_json.rs)
