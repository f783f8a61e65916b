"""Builds the native core (Rust) into traceparse.parsers._native (parsers/native: the scanners) and
traceparse.reports._native (reports/native: the report kernels); everything else is pyproject.toml."""
from setuptools import setup
from setuptools_rust import Binding, RustExtension

setup(
    rust_extensions=[
        RustExtension(
            f"traceparse.{floor}._native",
            path=f"{floor}/native/Cargo.toml",
            binding=Binding.PyO3,
            features=["python"],
            py_limited_api=True,
            debug=False,  # an editable install too: the tests and bench run the optimised scanners
        )
        for floor in ("parsers", "reports")
    ],
)
