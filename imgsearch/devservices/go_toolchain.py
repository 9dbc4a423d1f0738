"""Which Go builds MinIO: the machine's own when new enough, else a newer one the go command fetches itself.

The pinned MinIO needs Go 1.24. A distribution's Go is often older (Ubuntu 24.04 ships 1.22, Debian 12 1.19);
from Go 1.21 on, `GOTOOLCHAIN=go1.X.Y` makes the go command download that toolchain from the Go module proxy
(about 76 MB, once), which is reachable where download sites are not. Older Go cannot do that.
"""

from __future__ import annotations

import re
import shutil
import subprocess

MINIO_NEEDS = (1, 24)
CAN_SWITCH_FROM = (1, 21)
# A toolchain the module proxy serves (the one this project's machines run).
FETCHED_TOOLCHAIN = "go1.26.8"


def parse_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from `go env GOVERSION` output such as "go1.22.2"."""
    found = re.match(r"go(\d+)\.(\d+)", text.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def toolchain_setting(version: tuple[int, int] | None) -> str | None:
    """The GOTOOLCHAIN value to build MinIO with (None: the local Go as it is); raises when no Go can do it."""
    if version is None:
        raise RuntimeError(
            "Go is needed to build MinIO (go install): install Go 1.21 or newer (apt-get install golang-go)"
        )
    if version >= MINIO_NEEDS:
        return None
    if version >= CAN_SWITCH_FROM:
        return FETCHED_TOOLCHAIN
    raise RuntimeError(
        f"Go {version[0]}.{version[1]} is too old to build MinIO or to fetch a newer Go: install Go 1.21 or newer "
        "(go.dev/dl, or your distribution's backports)"
    )


def local_version() -> tuple[int, int] | None:
    if shutil.which("go") is None:
        return None
    found = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=False)
    return parse_version(found.stdout) if found.returncode == 0 else None
