"""Package layout: domain folders at the top level, installed under ``lce_nas``.

Metadata lives in pyproject.toml; this file only maps folders to subpackages
(and, where present, declares the native extension).
"""

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
}

packages: list[str] = []
for name, folder in SUBPACKAGES.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(
    packages=packages,
    package_dir=SUBPACKAGES,
    package_data={"": ["*.ini", "*.mako", "*.json", "*.toml", "*.js", "*.html", "*.css"]},
    include_package_data=True,
)
