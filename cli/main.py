"""The `imgsearch` command."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from cli.commands import demo, evaluate, index, reindex, search, tag, train
from imgsearch.errors import ImgsearchError
from imgsearch.settings import Settings
from pipeline.models.offline import ModelWeightsMissing


def _serve(args: argparse.Namespace) -> int:
    from api.main import create_app
    from api.serve import serve
    from imgsearch.logging_setup import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    serve(create_app(settings), settings, args.host, args.port)
    return 0


def _models(args: argparse.Namespace) -> int:
    from cli.commands import models

    settings = Settings()
    if args.action == "fetch":
        for path in models.fetch(settings):
            print(f"cached: {path}")
    else:
        models.print_info(settings)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from cli.commands.maintenance import run_reconcile

    return run_reconcile(Settings(), args.grace_minutes)


def _optimize(args: argparse.Namespace) -> int:
    from cli.commands.maintenance import run_optimize

    return run_optimize(Settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgsearch", description="Search your own images by object.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=_serve)
    models = commands.add_parser("models", help="fetch model weights (online) or show the configured models")
    models.add_argument("action", choices=["fetch", "info"])
    models.set_defaults(handler=_models)
    repair = commands.add_parser("reconcile", help="remove blobs without documents and documents without blobs")
    repair.add_argument("--grace-minutes", type=float, default=10.0, help="spare blobs younger than this")
    repair.set_defaults(handler=_reconcile)
    optimize = commands.add_parser(
        "optimize", help="after a large import: merge the Elasticsearch index into one segment"
    )
    optimize.set_defaults(handler=_optimize)
    index.add_parser(commands)
    reindex.add_parser(commands)
    search.add_parser(commands)
    tag.add_parser(commands)
    train.add_parser(commands)
    evaluate.add_parser(commands)
    demo.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ValidationError as error:
        first = error.errors()[0]
        print(f"imgsearch: bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return 2
    except (ModelWeightsMissing, FileNotFoundError, ImgsearchError) as error:
        print(f"imgsearch: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
