"""Package layout: domain folders at the top level, installed under ``lce_nas``.

Metadata lives in pyproject.toml; this file only maps folders to subpackages
and declares the native extension (engine/native, C++17 with pybind11).
"""

import importlib.util
from glob import glob
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import find_packages, setup

# Import name -> folder. The domain folders sit at the repository's top level
# but install under one import package, so nothing generic like `search`
# lands in site-packages.
SUBPACKAGES = {
    "lce_nas": "lce_nas",
    "lce_nas.space": "space",
    "lce_nas.engine": "engine",
    "lce_nas.latency_db": "latency_db",
    "lce_nas.workers": "workers",
    "lce_nas.search": "search",
    "lce_nas.dashboard": "dashboard",
    "lce_nas.report": "report",
    "lce_nas.predictor": "predictor",
}

packages: list[str] = []
for name, folder in SUBPACKAGES.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

# The native engine. No -march flags: the AVX2 / AVX-512 kernels carry per-function
# target attributes and are picked at run time, so one binary runs on any x86-64 CPU.
# The flags (COMPILE_ARGS) are part of the source digest, where they are explained.
ParallelCompile("LCE_NAS_BUILD_JOBS", default=2).install()


def _load_source_digest():
    # By path: the package and its dependencies are not importable while it builds.
    spec = importlib.util.spec_from_file_location(
        "source_digest", Path("engine/native/source_digest.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_digest = _load_source_digest()
NATIVE_SOURCES = [p.as_posix() for p in _digest.source_files(Path("engine/native/src"))]
# Every source and include, so a change to any of them (glue.inc too) rebuilds both modules.
native = Pybind11Extension(
    "lce_nas.engine.native._native",
    sorted(glob("engine/native/src/*.cpp")),
    depends=NATIVE_SOURCES,
    cxx_std=17,
    extra_compile_args=list(_digest.COMPILE_ARGS),
)
# The digest of those sources, compiled in: the engine's version in a latency key carries it.
build_info = Pybind11Extension(
    "lce_nas.engine.native._build_info",
    ["engine/native/build_info.cpp"],
    depends=NATIVE_SOURCES,
    define_macros=[
        ("LCE_NAS_NATIVE_SOURCE_DIGEST", f'"{_digest.digest_sources(Path("engine/native/src"))}"')
    ],
    cxx_std=17,
)

setup(
    packages=packages,
    package_dir=SUBPACKAGES,
    # Data files by pattern only: MANIFEST.in (the native sources, for the sdist) would
    # otherwise make engine/native/src look like a package that was left out.
    package_data={
        "": ["*.ini", "*.mako", "*.json", "*.toml"],
        "lce_nas.dashboard": ["static/*.js", "static/*.css", "templates/*.html"],
    },
    include_package_data=False,
    ext_modules=[native, build_info],
    cmdclass={"build_ext": build_ext},
)
