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


@dataclass(frozen=True)
class Layout:
    home: Path

    @property
    def downloads(self) -> Path:
        return self.home / "downloads"

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    def create(self) -> None:
        for folder in (self.home, self.downloads, self.bin, self.data, self.logs, self.run):
            folder.mkdir(parents=True, exist_ok=True)
        # Elasticsearch's unprivileged user must be able to walk into the home folder.
        self.home.chmod(0o755)
