"""The digest of the native engine's sources, which its version in a latency key carries.

Only the standard library is used here: ``setup.py`` loads this file by path at
build time (before the package is importable) and compiles the digest into the
extension, and the tests compare that compiled digest with the checkout's.

Example:
    >>> len(digest_sources(SOURCE_DIR))  # doctest: +SKIP
    64
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Every file under this folder is a native source (``*.cpp``, ``*.h``, ``*.inc``, ...).
SOURCE_DIR = Path(__file__).resolve().parent / "src"
#: How ``setup.py`` compiles the engine; part of the digest, since a flag changes the
#: machine code (and the latencies) as much as a source does. ``-ffp-contract=off`` keeps
#: float rounding the same as LCE's kernels (no implicit FMA); ``-fno-trapping-math`` lets
#: selects (PRELU, clamps, SELECT) vectorise, and the engine never reads FP exception flags.
COMPILE_ARGS = ("-O3", "-ffp-contract=off", "-fno-trapping-math")


def source_files(folder: Path = SOURCE_DIR) -> list[Path]:
    """Every regular file under ``folder``, in a stable order.

    Example:
        >>> any(p.name == "glue.inc" for p in source_files())  # doctest: +SKIP
        True
    """
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


def digest_sources(folder: Path = SOURCE_DIR) -> str:
    """sha256 (hex) over :data:`COMPILE_ARGS` and each source's relative path and bytes.

    Paths are part of the digest, so renaming or moving a file changes it too.

    Example:
        >>> digest_sources(SOURCE_DIR) == digest_sources(SOURCE_DIR)  # doctest: +SKIP
        True
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    flags = " ".join(COMPILE_ARGS).encode()
    digest.update(f"{len(flags)}:".encode() + flags)
    for path in source_files(folder):
        name = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        # Lengths first, so no two different file sets hash the same bytes.
        digest.update(f"{len(name)}:{len(data)}:".encode())
        digest.update(name)
        digest.update(data)
    return digest.hexdigest()
