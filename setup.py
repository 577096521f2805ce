"""Package layout: domain folders at the top level, installed under ``lce_nas``.

Metadata lives in pyproject.toml; this file only maps folders to subpackages
and declares the native extension (engine/native, C++17 with pybind11).
"""

from glob import glob

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
}

packages: list[str] = []
for name, folder in SUBPACKAGES.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

# The native engine. No -march flags: the AVX2 / AVX-512 kernels carry per-function
# target attributes and are picked at run time, so one binary runs on any x86-64 CPU.
# -ffp-contract=off keeps float rounding the same as LCE's kernels (no implicit FMA).
ParallelCompile("LCE_NAS_BUILD_JOBS", default=2).install()
native = Pybind11Extension(
    "lce_nas.engine.native._native",
    sorted(glob("engine/native/src/*.cpp")),
    depends=sorted(glob("engine/native/src/*.h")),
    cxx_std=17,
    extra_compile_args=["-O3", "-ffp-contract=off"],
)

setup(
    packages=packages,
    package_dir=SUBPACKAGES,
    package_data={"": ["*.ini", "*.mako", "*.json", "*.toml", "*.js", "*.html", "*.css"]},
    include_package_data=True,
    ext_modules=[native],
    cmdclass={"build_ext": build_ext},
)
