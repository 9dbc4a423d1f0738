"""`python -m imgsearch.devservices up|down|status` (wrapped by `scripts/services`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from urllib.parse import urlsplit

from imgsearch.devservices.elasticsearch import ES_VERSION, ElasticsearchService
from imgsearch.devservices.layout import Layout, default_home, default_state
from imgsearch.devservices.minio import MINIO_VERSION, MinioService
from imgsearch.settings import Settings


def build_services(settings: Settings, layout: Layout) -> tuple[ElasticsearchService, MinioService]:
    """The two services, on the loopback ports that the settings point at (9200 and 9000 by default)."""
    es_port = urlsplit(str(settings.es_url)).port if settings.es_url else None
    s3_port = int(settings.s3_endpoint.rsplit(":", 1)[1]) if settings.s3_endpoint else None
    es = ElasticsearchService(layout, port=es_port or 9200)
    minio = MinioService(
        layout,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        port=s3_port or 9000,
    )
    return es, minio


def es_cluster(single: ElasticsearchService, nodes: int) -> list[ElasticsearchService]:
    """`nodes` Elasticsearch nodes forming one cluster, on the single node's port and the ones after it."""
    return [replace(single, port=single.port + n, node=n, nodes=nodes) for n in range(nodes)]


def started_cluster_nodes(single: ElasticsearchService) -> list[ElasticsearchService]:
    """The nodes of a cluster `up --es-nodes N` made here before (their data folders say how many)."""
    folders = sorted((single.layout.data / "elasticsearch-cluster").glob("node-*"))
    return es_cluster(single, len(folders)) if len(folders) > 1 else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/services", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "install"])
    parser.add_argument("--es-nodes", type=int, default=1, help="up: an Elasticsearch cluster of this many nodes")
    args = parser.parse_args(argv)
    if args.es_nodes < 1:
        parser.error("--es-nodes: one or more")
    layout = Layout(default_home(), default_state())
    layout.create()
    single, minio = build_services(Settings(), layout)
    try:
        if args.action == "install":
            single.install()
            minio.install()
        elif args.action == "up":
            nodes = es_cluster(single, args.es_nodes) if args.es_nodes > 1 else [single]
            minio.start()
            for node in nodes:
                node.start(wait=False)
            for node in nodes:
                node.wait_healthy()
            print(f"Elasticsearch {ES_VERSION}: {', '.join(node.url for node in nodes)}")
            print(f"MinIO {MINIO_VERSION}: {minio.url}")
            print(f"export IMGSEARCH_ES_URL={single.url} IMGSEARCH_S3_ENDPOINT={minio.endpoint}")
        elif args.action == "down":
            for node in [single, *started_cluster_nodes(single)]:
                stopped = node.stop()
                if stopped or node is single:
                    print(f"Elasticsearch {node.node_name}: {'stopped' if stopped else 'was not running'}")
            print(f"MinIO: {'stopped' if minio.stop() else 'was not running'}")
        else:
            return _status(single, minio)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        print(f"services {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def _status(single: ElasticsearchService, minio: MinioService) -> int:
    cluster = [node for node in started_cluster_nodes(single) if node.pid() is not None]
    up = True
    for name, pid, healthy, url in (
        *((f"Elasticsearch {node.node_name}", node.pid(), node.healthy(), node.url) for node in cluster or [single]),
        ("MinIO", minio.pid(), minio.healthy(), minio.url),
    ):
        state = f"running (pid {pid}), {'healthy' if healthy else 'not answering'}" if pid else "stopped"
        up = up and pid is not None and healthy
        print(f"{name}: {state} at {url}")
    return 0 if up else 3


if __name__ == "__main__":
    sys.exit(main())
