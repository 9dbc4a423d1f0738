"""`imgsearch reindex`: rebuild the index with the configured models from the stored originals, then switch to it.

Elasticsearch: a new versioned index beside the alias, then one atomic alias swap. Embedded: a new data generation
beside the one in use, then the pointer file is replaced. Searches keep answering from the index in use until the
switch (and a process that opened it before then keeps reading it); the old index stays until `--drop-old`. The
work is a durable job: Ctrl-C, a crash or a failed image leave it resumable with `--resume JOB`, and running the
command again goes on with an unfinished one for the same models.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime

from rich.console import Console

from cli.progress import image_progress
from cli.stop_after_batch import StopAfterBatch
from imgsearch.backends import build_blob_store, build_generations, build_job_store
from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.index.generations import IndexGenerations
from imgsearch.job_store import JobStore
from imgsearch.jobs import HEARTBEAT_S, Job, JobNotResumable, JobState, save_progress, this_process
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.reindex import CatchUp, Outcome, Reindexer
from imgsearch.settings import Settings
from pipeline.runner import Pipeline

KIND = "reindex"


def run_reindex(args: argparse.Namespace) -> int:
    settings = Settings()
    console = Console(stderr=True, soft_wrap=True)
    generations = build_generations(settings)
    store = build_job_store(settings, getattr(generations, "client", None))
    try:
        resumed = _resumed(store, args.resume) if args.resume else None  # bad input answered before models load
        pipeline = build_pipeline(settings)
        pipeline.load()
        job = resumed or _job_to_run(store, generations, pipeline, console)
        if job is not None:
            code = _run(job, args, settings, pipeline, generations, store, console)
            if code:
                return code
        if args.drop_old:
            _drop_old(generations, store, console)
        return 0
    finally:
        store.close()
        generations.close()


def _resumed(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.kind != KIND:
        raise InvalidRequest(f"job {job_id} is a {job.kind} job, not a re-index")
    state = job.seen_state(datetime.now(UTC))
    if state not in (JobState.INTERRUPTED, JobState.FAILED):
        raise JobNotResumable(f"job {job_id} is {state.value}: only an interrupted or failed re-index goes on")
    return job


def _job_to_run(store: JobStore, generations: IndexGenerations, pipeline: Pipeline, console: Console) -> Job | None:
    """An unfinished re-index for these models, a new one, or None when the index in use holds them already."""
    in_use = generations.in_use()
    if in_use is None:
        console.print("nothing is indexed yet: nothing to re-index")
        return None
    if generations.listing(in_use).model_id() == pipeline.model_id:
        console.print(f"the index in use ({in_use}) holds the configured models' vectors: nothing to re-index")
        return None
    now = datetime.now(UTC)
    for job in store.newest(50):
        if job.kind != KIND or job.spec.get("model_id") != pipeline.model_id or job.spec.get("source") != in_use:
            continue
        state = job.seen_state(now)
        if state in (JobState.RUNNING, JobState.QUEUED):
            raise InvalidRequest(f"job {job.id} is re-indexing for these models now (process {job.owner})")
        if state in (JobState.INTERRUPTED, JobState.FAILED):
            console.print(f"going on with the unfinished re-index job {job.id}")
            return job
    target = generations.create(pipeline.model_id, pipeline.dim)
    job = Job(id=uuid.uuid4().hex, kind=KIND, spec={"source": in_use, "target": target, "model_id": pipeline.model_id})
    store.save(job)
    return job


def _run(
    job: Job,
    args: argparse.Namespace,
    settings: Settings,
    pipeline: Pipeline,
    generations: IndexGenerations,
    store: JobStore,
    console: Console,
) -> int:
    if job.spec.get("model_id") != pipeline.model_id:
        raise InvalidRequest(
            f"job {job.id} re-indexes for model {job.spec.get('model_id')}, the configured models are "
            f"{pipeline.model_id}: configure those, or run `imgsearch reindex` for these"
        )
    source_name, target_name = job.spec["source"], job.spec["target"]
    target = generations.open(target_name)
    if target is None:
        raise InvalidRequest(f"the index job {job.id} was building ({target_name}) is gone: run `imgsearch reindex`")
    try:
        target.ensure(pipeline.model_id, pipeline.dim)
        blobs = build_blob_store(settings)
        source = generations.listing(source_name)
        switched_before = generations.in_use() == target_name  # a run stopped between the switch and its end
        job.done -= job.failed  # the failures are tried again
        job.failed, job.errors = 0, []
        job.total, job.state, job.owner, job.finished_at = source.image_count(), JobState.RUNNING, this_process(), None
        save_progress(store, job)
        started = time.monotonic()
        caught = CatchUp()
        with StopAfterBatch() as stop, image_progress(console, args.json) as progress:
            bar = progress.add_task("re-indexing", total=job.total, completed=job.done, objects=0,
                                    duplicates=job.duplicates, failed=0)  # fmt: skip
            saved_at = [time.monotonic()]

            def on_result(_image_id: str, outcome: Outcome) -> None:
                objects = 0 if isinstance(outcome, Exception) else len(outcome.document.objects) - 1
                progress.update(bar, advance=1, duplicates=job.duplicates, failed=job.failed,
                                objects=progress.tasks[bar].fields["objects"] + objects)  # fmt: skip
                if time.monotonic() - saved_at[0] >= HEARTBEAT_S:
                    save_progress(store, job)
                    saved_at[0] = time.monotonic()

            reindexer = Reindexer(pipeline, blobs, source, target, job, on_result)
            copied = switched_before or reindexer.copy(stop.requested.is_set)
            if copied and not switched_before:
                caught += reindexer.catch_up()
        if not copied:
            job.state = JobState.INTERRUPTED
            save_progress(store, job)
            _report(job, caught, args.json, console, time.monotonic() - started)
            console.print(f"stopped: go on with `imgsearch reindex --resume {job.id}`")
            return 1
        if job.failed and not args.skip_failed:
            job.state, job.finished_at = JobState.FAILED, datetime.now(UTC)
            save_progress(store, job)
            _report(job, caught, args.json, console, time.monotonic() - started)
            console.print(
                f"not switched: {job.failed} images could not be re-indexed; the index in use is unchanged. "
                f"`imgsearch reindex --resume {job.id}` tries them again, `--skip-failed` switches without them"
            )
            return 1
        generations.switch(target_name)
        caught += reindexer.catch_up()  # what reached the old index while it was being switched away from
        job.state, job.finished_at = JobState.DONE, datetime.now(UTC)
        save_progress(store, job)
    finally:
        target.close()
    _report(job, caught, args.json, console, time.monotonic() - started, switched=(source_name, target_name))
    return 0


def _report(
    job: Job,
    caught: CatchUp,
    as_json: bool,
    console: Console,
    seconds: float,
    switched: tuple[str, str] | None = None,
) -> None:
    if as_json:
        summary = {
            "job": job.id,
            "state": job.state.value,
            "images": job.total,
            "done": job.done,
            "duplicates": job.duplicates,
            "failed": job.failed,
            "caught_up": {"added": caught.added, "removed": caught.removed, "retagged": caught.retagged},
            "source": job.spec["source"],
            "target": job.spec["target"],
            "switched": switched is not None,
            "seconds": round(seconds, 1),
            "errors": [{"image_id": image_id, "code": code, "message": m} for image_id, code, m in job.errors],
        }
        print(json.dumps(summary))
        return
    console.print(
        f"re-indexed {job.done - job.failed} of {job.total} images with model {job.spec['model_id']} "
        f"({job.failed} failed; caught up since copied: {caught.added} added, {caught.removed} removed, "
        f"{caught.retagged} re-tagged)"
    )
    for image_id, code, message in job.errors[:10]:
        console.print(f"  failed: {image_id}: {code}: {message}", markup=False)
    if switched is not None:
        console.print(
            f"now in use: {switched[1]}; the one it replaced ({switched[0]}) is kept until "
            "`imgsearch reindex --drop-old`"
        )


def _drop_old(generations: IndexGenerations, store: JobStore, console: Console) -> None:
    """Drop the indices replaced by earlier switches, and those of finished or abandoned re-index jobs; never one
    an unfinished job is building."""
    now = datetime.now(UTC)
    building = {job.spec.get("target") for job in store.newest(50)  # a failed one goes on with --resume
                if job.kind == KIND and job.seen_state(now) not in (JobState.DONE, JobState.CANCELLED)}  # fmt: skip
    for name in generations.not_in_use():
        if name in building:
            console.print(f"kept {name}: an unfinished re-index job is building it")
        elif generations.drop(name):
            console.print(f"dropped {name}")
        else:
            console.print(f"kept {name}: a process still has it open (stop it, then run this again)")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("reindex", help="rebuild the index with the configured models, then switch to it")
    parser.add_argument("--resume", metavar="JOB", help="go on with an interrupted or failed re-index")
    parser.add_argument("--drop-old", action="store_true", help="then delete the indices no longer in use")
    parser.add_argument("--skip-failed", action="store_true", help="switch even if some images could not be redone")
    parser.add_argument("--json", action="store_true", help="no progress bar; print one summary object")
    parser.set_defaults(handler=run_reindex)
