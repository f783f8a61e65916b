"""A preset reads its own tracepoints, not another system's events of the same name: a USDT probe
called ``myapp:sys_enter_write``, a foreign ``new:sched_switch`` (the bug class the fuzzer found in
`net`). The real capture fixtures/events/events.perf.txt.xz with a copy of its events under
foreign systems added must give the same sched, syscalls, irq and futex reports as without."""
from __future__ import annotations

import lzma
import re
from pathlib import Path

import pytest

import traceparse.api

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "fixtures" / "events" / "events.perf.txt.xz"
FOREIGN = {"sched": "new", "syscalls": "myapp", "raw_syscalls": "probe_raw", "irq": "irqx"}
EVENT = re.compile(r" (sched|syscalls|raw_syscalls|irq):(\w+): ")


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    lines = lzma.open(CAPTURE, "rt").read().splitlines()
    out = tmp_path_factory.mktemp("foreign")
    real, mixed = out / "real.txt", out / "mixed.txt"
    real.write_text("\n".join(lines) + "\n")
    copies = []
    for line in lines:
        copies.append(line)
        if EVENT.search(line):  # the same event again, under a system that is not the kernel's
            copies.append(EVENT.sub(lambda m: f" {FOREIGN[m.group(1)]}:{m.group(2)}: ", line, count=1))
    assert len(copies) > len(lines) + 5000
    mixed.write_text("\n".join(copies) + "\n")
    return real, mixed


def _numbers(data: dict) -> dict:
    """Everything but where the report came from (the source's path, counts of the events read)."""
    return {k: v for k, v in data.items() if k not in ("source", "warnings", "notes", "events_seen")}


@pytest.mark.parametrize("preset", ["sched", "syscalls", "irq", "futex"])
def test_foreign_events_of_the_same_name_are_not_counted(captures, preset):
    real, mixed = captures
    run = getattr(traceparse.api, preset)
    a, b = run(str(real)).data, run(str(mixed)).data
    assert _numbers(b) == _numbers(a)


def test_funclatency_start_end_hold_to_their_system(tmp_path):
    """--start/--end with a system pair only that system's events; without one, any system's."""
    lines = [
        "   app  10 [000]  1.000000: probe_app:f: (401000)",
        "   app  10 [000]  1.000100: other:f: (401000)",
        "   app  10 [000]  1.000300: other:f__return: (401000 <- 401100)",
        "   app  10 [000]  1.000500: probe_app:f__return: (401000 <- 401100)",
    ]
    p = tmp_path / "f.txt"
    p.write_text("\n".join(lines) + "\n")
    from traceparse.reports.presets import funclatency_spec
    from traceparse.reports.engine.spec import event_match

    spec = funclatency_spec(start="probe_app:f", end="probe_app:f__return")
    assert spec.start.matches("probe_app:f") and not spec.start.matches("other:f")
    assert spec.end.matches("probe_app:f__return") and not spec.end.matches("other:f__return")
    any_sys = funclatency_spec(start="f", end="f__return")
    assert any_sys.start.matches("other:f") and any_sys.start.matches("probe_app:f")
    # an event printed without a system (ftrace text of an unknown tracepoint) is taken on its name
    assert event_match("sched", "sched_switch", "sched_switch") and not event_match("sched", "sched_switch", "new:sched_switch")
