"""`imgsearch index SOURCE…`: add a photo library to the index from the command line.

Sources are files, folders (recursive, images recognised by content), `s3://bucket/prefix` on the configured
MinIO/S3, URLs, and `--from FILE` (one path or URL a line). The same ingestor and job record as the API's sync
jobs; images already indexed are recognised by their hash and skip the models, so running the same command again
after an interruption continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from cli.progress import image_progress
from cli.stop_after_batch import StopAfterBatch
from imgsearch.connections import url_fetcher
from imgsearch.core import opened_core
from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.ingest import Ingestor, IngestResult
from imgsearch.job_store import JobStore
from imgsearch.jobs import HEARTBEAT_S, Job, JobState, Source, save_progress, this_process
from imgsearch.library_sources import list_sources
from imgsearch.ray_engine import ray_connected, ray_ingest_many
from imgsearch.settings import Settings

BATCH_SIZE = 8


def run_index(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.ray_address:
        settings = settings.model_copy(update={"ray_address": args.ray_address})
    console = Console(stderr=True, soft_wrap=True)  # summary lines stay whole in logs and pipes
    with opened_core(settings) as core, ExitStack() as stack:
        store = core.jobs.store
        job = _resumed(store, args.resume) if args.resume else _new_job(args)
        # A resumed job keeps its engine unless told otherwise.
        engine = args.engine or job.spec.get("engine") or "local"
        job.spec["engine"] = engine
        fetcher = url_fetcher(settings)
        try:
            # Connected before the job is recorded as running: a cluster that cannot be reached leaves no trace.
            if engine == "ray":
                # Ray prints its cluster's news (a worker died, …) on stdout: stdout is for the --json summary.
                stack.enter_context(redirect_stdout(sys.stderr))
                stack.enter_context(ray_connected(settings))
            from_file = job.spec.get("from") or None
            listing = list_sources(json.loads(job.spec["arguments"]), core.buckets, fetcher,
                                   Path(from_file) if from_file else None)  # fmt: skip
            skipped = job.done  # a resume goes on after the last source whose result was recorded
            job.total, job.state, job.owner = len(listing.sources), JobState.RUNNING, this_process()
            store.save(job)
            objects = 0
            failures: list[tuple[str, str]] = []  # every one, for --errors (the job record keeps the first 50)
            started, saved_at = time.monotonic(), time.monotonic()
            with StopAfterBatch() as stop, image_progress(console, args.json) as progress:
                task = progress.add_task("indexing", total=job.total, completed=skipped, objects=0, duplicates=0,
                                         failed=job.failed)  # fmt: skip
                outcomes = _outcomes(engine, settings, core.ingestor, listing.sources[skipped:], job.tags, stop)
                for source, outcome in outcomes:
                    job.record(source, outcome)
                    if isinstance(outcome, Exception):
                        failures.append((source, str(outcome)))
                    elif not outcome.duplicate:
                        objects += sum(obj.kind.value == "object" for obj in outcome.document.objects)
                    progress.update(task, advance=1, objects=objects, duplicates=job.duplicates, failed=job.failed)
                    if time.monotonic() - saved_at >= HEARTBEAT_S:
                        save_progress(store, job)
                        saved_at = time.monotonic()
                    if stop.requested.is_set() and engine == "ray":  # its sources went out at once: stop here
                        break
            stopped = stop.requested.is_set() and job.done < job.total
        finally:
            fetcher.close()
        job.state = JobState.INTERRUPTED if stopped else JobState.FAILED if job.failed else JobState.DONE
        job.finished_at = None if stopped else datetime.now(UTC)
        save_progress(store, job)
    summary = _summary(job, listing.not_images, objects, time.monotonic() - started, stopped)
    if args.errors:
        Path(args.errors).write_text("".join(f"{source}\t{message}\n" for source, message in failures))
    _report(summary, job, args.json, console, stopped)
    return 1 if job.failed or stopped else 0


def _outcomes(
    engine: str,
    settings: Settings,
    ingestor: Ingestor,
    sources: list[Source],
    tags: tuple[str, ...],
    stop: StopAfterBatch,
) -> Iterator[tuple[str, IngestResult | Exception]]:
    if engine == "ray":
        return ray_ingest_many(settings, [name for name, _ in sources], tags, BATCH_SIZE)
    return ingestor.ingest_many(stop.sources(sources), tags, BATCH_SIZE)


def _new_job(args: argparse.Namespace) -> Job:
    if not args.sources and not args.from_file:
        raise InvalidRequest("name something to index: files, folders, s3://bucket/prefix, URLs or --from FILE")
    from_file = str(Path(args.from_file).resolve()) if args.from_file else ""
    # Local paths are kept absolute, so a resume from another working directory lists the same files.
    arguments = [a if "://" in a else str(Path(a).resolve()) for a in args.sources]
    spec = {"arguments": json.dumps(arguments), "from": from_file}
    return Job(id=uuid.uuid4().hex, kind="index", spec=spec, tags=tuple(args.tag or ()))


def _resumed(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.kind != "index" or "arguments" not in job.spec:
        raise InvalidRequest(
            f"job {job_id} is a {job.kind} job: resume it through the API (POST /jobs/{job_id}/resume)"
        )
    job.check_resumable()
    return job


def _summary(job: Job, not_images: list[str], objects: int, seconds: float, stopped: bool) -> dict[str, object]:
    return {
        "job": job.id,
        "state": job.state.value,
        "sources": job.total,
        "done": job.done,
        "added": job.added,
        "duplicates": job.duplicates,
        "failed": job.failed,
        "objects": objects,
        "not_images": len(not_images),
        "seconds": round(seconds, 1),
        "images_per_s": round(job.done / seconds, 2) if seconds > 0 else None,
        "errors": [{"source": source, "code": code, "message": message} for source, code, message in job.errors],
    }


def _report(summary: dict[str, object], job: Job, as_json: bool, console: Console, stopped: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    console.print(
        f"indexed {job.done} of {job.total}: {job.added} added, {job.duplicates} already indexed, {job.failed} "
        f"failed, {summary['objects']} objects found, {summary['not_images']} files skipped as not images "
        f"({summary['images_per_s']} images/s)"
    )
    for source, code, message in job.errors[:10]:
        console.print(f"  failed: {source}: {code}: {message}", markup=False)
    if stopped:
        console.print(f"stopped: go on with `imgsearch index --resume {job.id}`")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("index", help="index files, folders, s3://bucket/prefix or URLs")
    parser.add_argument("sources", nargs="*", help="files, folders, s3://bucket/prefix, http(s) URLs")
    parser.add_argument("--from", dest="from_file", help="a file of paths and URLs, one a line")
    parser.add_argument("--resume", metavar="JOB", help="go on with an interrupted run (its id is in its summary)")
    parser.add_argument("--tag", action="append", help="a tag for every image indexed; repeat for several")
    parser.add_argument("--engine", choices=["local", "ray"], help="local (default): this process; ray: Ray Data "
                        "actors on a cluster (needs Elasticsearch; see README, At scale)")  # fmt: skip
    parser.add_argument("--ray-address", help="the Ray cluster (IMGSEARCH_RAY_ADDRESS); unset: a local Ray")
    parser.add_argument("--json", action="store_true", help="no progress bar; print one summary object")
    parser.add_argument("--errors", help="write every failure to this file (source and message, tab-separated)")
    parser.set_defaults(handler=run_index)
