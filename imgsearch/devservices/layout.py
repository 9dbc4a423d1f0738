"""Where the dev services keep their downloads, builds, data, logs and pid files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    """`IMGSEARCH_SERVICES_HOME`, else a machine-wide folder for root and a per-user cache otherwise.

    Root gets a folder outside /root because Elasticsearch runs as an unprivileged user that must read it.
    """
    configured = os.environ.get("IMGSEARCH_SERVICES_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    if os.geteuid() == 0:
        return Path("/opt/imgsearch-services")
    cache_root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache_root / "imgsearch-services"


def default_state() -> Path | None:
    """`IMGSEARCH_SERVICES_STATE`: where the servers keep data, logs and pid files, when not under the home (the
    test command's loopback-only namespace runs its own servers from the same installs)."""
    configured = os.environ.get("IMGSEARCH_SERVICES_STATE")
    return Path(configured).expanduser().resolve() if configured else None


@dataclass(frozen=True)
class Layout:
    home: Path
    state: Path | None = None  # data, logs and pid files; None: under home

    @property
    def downloads(self) -> Path:
        return self.home / "downloads"

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def data(self) -> Path:
        return (self.state or self.home) / "data"

    @property
    def logs(self) -> Path:
        return (self.state or self.home) / "logs"

    @property
    def run(self) -> Path:
        return (self.state or self.home) / "run"

    def create(self) -> None:
        for folder in (self.home, self.downloads, self.bin, self.data, self.logs, self.run):
            folder.mkdir(parents=True, exist_ok=True)
        # Elasticsearch's unprivileged user must be able to walk into the home and state folders.
        for folder in {self.home, self.state or self.home}:
            folder.chmod(0o755)
