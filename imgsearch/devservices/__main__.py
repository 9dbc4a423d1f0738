"""`python -m imgsearch.devservices up|down|status` (wrapped by `scripts/services`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/services", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "install"])
    args = parser.parse_args(argv)
    layout = Layout(default_home(), default_state())
    layout.create()
    es, minio = build_services(Settings(), layout)
    try:
        if args.action == "install":
            es.install()
            minio.install()
        elif args.action == "up":
            minio.start()
            es.start()
            print(f"Elasticsearch {ES_VERSION}: {es.url}")
            print(f"MinIO {MINIO_VERSION}: {minio.url}")
            print(f"export IMGSEARCH_ES_URL={es.url} IMGSEARCH_S3_ENDPOINT={minio.endpoint}")
        elif args.action == "down":
            for name, stopped in (("Elasticsearch", es.stop()), ("MinIO", minio.stop())):
                print(f"{name}: {'stopped' if stopped else 'was not running'}")
        else:
            up = True
            for name, pid, healthy, url in (
                ("Elasticsearch", es.pid(), es.healthy(), es.url),
                ("MinIO", minio.pid(), minio.healthy(), minio.url),
            ):
                state = f"running (pid {pid}), {'healthy' if healthy else 'not answering'}" if pid else "stopped"
                up = up and pid is not None and healthy
                print(f"{name}: {state} at {url}")
            return 0 if up else 3
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        print(f"services {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
