"""MinIO built from source with `go install` at a pinned version, served on loopback."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from imgsearch.devservices import go_toolchain, process
from imgsearch.devservices.layout import Layout

# MinIO tags releases as RELEASE.<date>, which Go modules see as pseudo-versions; this is the newest
# commit the module proxy served when this pin was last moved.
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"


@dataclass(frozen=True)
class MinioService:
    layout: Layout
    access_key: str
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 9000
    console_port: int = 9001

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def binary(self) -> Path:
        return self.layout.bin / f"minio-{MINIO_VERSION}"

    @property
    def pid_file(self) -> Path:
        return self.layout.run / "minio.pid"

    @property
    def pid_marker(self) -> str:
        """What our server's command line starts with: this binary serving."""
        return f"{self.binary} server"

    def pid(self) -> int | None:
        return process.running_pid(self.pid_file, self.pid_marker)

    def healthy(self) -> bool:
        return process.http_ok(f"{self.url}/minio/health/live")

    def install(self) -> None:
        """`go install` the pinned MinIO once; the binary's name carries the version, so a new pin rebuilds."""
        if self.binary.is_file():
            return
        toolchain = go_toolchain.toolchain_setting(go_toolchain.local_version())
        build_dir = self.layout.home / "go-build"
        build_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(build_dir), "CGO_ENABLED": "0"}
        if toolchain is not None:
            env["GOTOOLCHAIN"] = toolchain
        subprocess.run(["go", "install", f"{MINIO_MODULE}@{MINIO_VERSION}"], check=True, env=env, cwd=build_dir)
        (build_dir / "minio").rename(self.binary)

    def start(self) -> None:
        """Start MinIO in its own session and wait for its liveness probe."""
        if self.pid() is not None:
            return
        if self.healthy():
            raise RuntimeError(f"something else already answers on {self.url}; stop it or change the port")
        if len(self.secret_key) < 8:
            raise RuntimeError("MinIO needs a secret key of at least 8 characters (IMGSEARCH_S3_SECRET_KEY)")
        self.install()
        data_dir = self.layout.data / "minio"
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(data_dir),
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        with (self.layout.logs / "minio.log").open("ab") as log:
            server = subprocess.Popen(
                [
                    str(self.binary),
                    "server",
                    str(data_dir),
                    "--address",
                    self.endpoint,
                    "--console-address",
                    f"{self.host}:{self.console_port}",
                    "--quiet",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{server.pid}\n")
        process.wait_until(self.healthy, timeout_s=60, what="MinIO", alive=lambda: server.poll() is None)

    def stop(self) -> bool:
        return process.stop(self.pid_file, self.pid_marker)
