"""Builds the native core (parsers/native, Rust) into traceparse.parsers._native; the rest is pyproject.toml."""
from setuptools import setup
from setuptools_rust import Binding, RustExtension

setup(
    rust_extensions=[
        RustExtension(
            "traceparse.parsers._native",
            path="parsers/native/Cargo.toml",
            binding=Binding.PyO3,
            features=["python"],
            py_limited_api=True,
        )
    ],
)
