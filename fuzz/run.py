"""Run one fuzz target under atheris (libFuzzer for Python), seeded from fixtures/.

    python fuzz/run.py TARGET [libFuzzer flags]       # TARGET: perf_text ftrace_text compressed trace_dat cli
    python fuzz/run.py trace_dat -max_total_time=3600 -print_final_stats=1

The corpus grows in fuzz/corpus/TARGET/ (not committed); crashes are written to fuzz/crashes/ as
TARGET-crash-<sha1> (both under $TRACEPARSE_FUZZ_DIR instead when set). A crash worth keeping goes to fixtures/damaged/TARGET/ with a line in
fixtures/damaged/README.md; tests/test_fuzz.py replays every file there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _import_all() -> None:
    import importlib
    import pkgutil

    import traceparse
    import traceparse.parsers
    import traceparse.reports

    # parsers/ and reports/ are installed inside the namespace from folders of their own: walk each
    packages = [traceparse, traceparse.parsers, traceparse.reports]
    for mod in (m for p in packages for m in pkgutil.walk_packages(p.__path__, p.__name__ + ".")):
        if mod.name.endswith(("fleet", "parquet", "__main__")):  # dask and the export: never reached by a target
            continue
        importlib.import_module(mod.name)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        raise SystemExit(__doc__)
    target, flags = sys.argv[1], sys.argv[2:]
    os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before polars loads: one core per fuzzer, two can run side by side
    import atheris

    import seeds

    with atheris.instrument_imports(include=["traceparse"]):
        import targets  # noqa: F401 - instrumented with what it imports
        import traceparse.api, traceparse.cli  # noqa: E401,F401 - the code under test, instrumented for coverage
        _import_all()  # what the API loads lazily (presets, diff, renderers) is instrumented too

    work = Path(os.environ.get("TRACEPARSE_FUZZ_DIR", HERE))  # tests point it at a temporary folder
    corpus = work / "corpus" / target
    if not corpus.exists() or not any(corpus.iterdir()):
        seeds.write(target, corpus)
    crashes = work / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    fn = targets.TARGETS[target]
    args = [sys.argv[0], *flags, f"-artifact_prefix={crashes}/{target}-", str(corpus)]
    if not any(f.startswith("-max_len") for f in flags):
        args.insert(1, "-max_len=65536")
    atheris.Setup(args, fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
