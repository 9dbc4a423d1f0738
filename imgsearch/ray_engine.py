"""Bulk indexing on Ray Data: the local engine's stages spread over a cluster's workers.

    sources (names, listed by the driver)
      → read bytes, decode, detect and embed: an actor pool, one model copy per actor (`num_gpus` from the
        settings), running the pipeline's own `process_stream` (its threads read the next images' bytes from the
        shared folder, S3/MinIO or a URL while the models run, so bytes cross the network once)
      → store blobs, then one bulk document request a batch: writer actors running `BatchStore`
      → every source's outcome back to the driver, in input order

Ray's streaming executor bounds what is in flight between the stages (no queues of our own). Ids are content
hashes and document writes are `create`s, so a retried task or a resumed job stores nothing twice: an actor that
dies is restarted by Ray and its batch runs again, finding what it had already stored.

The writers run in Ray workers, so the index must be one that several processes can write: Elasticsearch. Blobs go
to MinIO/S3 or to a folder every node mounts at the same path.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from imgsearch.backends import build_index
from imgsearch.batch_store import Stored
from imgsearch.connections import minio_client, url_fetcher
from imgsearch.errors import ImgsearchError, InvalidRequest
from imgsearch.index.types import ImageDocument
from imgsearch.ingest import WRITES_AHEAD, lightened
from imgsearch.library_sources import read_source
from imgsearch.pipeline_factory import build_pipeline
from imgsearch.ray_writer import Analyzed, BatchWriter, WorkerFailure, objects_column
from imgsearch.settings import Settings
from pipeline.decode import DecodedImage

CONNECT_TIMEOUT_S = 5.0


class RayUnavailable(ImgsearchError):
    """Ray is not installed, or the configured cluster cannot be reached."""

    code = "ray_unavailable"


@dataclass(frozen=True)
class RayPlan:
    """How the run is spread: model copies and their resources, writers, images per batch."""

    actors: int
    actor_cpus: float
    actor_gpus: float
    writers: int
    batch_size: int


def ray_ingest_many(
    settings: Settings, sources: Sequence[str], tags: tuple[str, ...] = (), batch_size: int = 8
) -> Iterator[tuple[str, Stored]]:
    """Like `Ingestor.ingest_many`, on Ray: every source's outcome in input order. `sources` are names the workers
    can read by themselves (`file://…` on a shared folder, `s3://bucket/key`, URLs)."""
    if not sources:
        return
    with ray_connected(settings) as ray:
        plan = plan_for(settings, ray.cluster_resources(), batch_size)
        dataset = _dataset(ray, settings, sources, tags, plan)
        for row in dataset.iter_rows():
            yield str(row["source"]), row["outcome"]


def plan_for(settings: Settings, cluster: dict[str, float], batch_size: int) -> RayPlan:
    """One model copy per `ray_actor_cpus` of the cluster's CPUs (or per `ray_actor_gpus` of its GPUs), unless
    `ray_actors` says how many."""
    cpus, gpus = settings.ray_actor_cpus, settings.ray_actor_gpus
    if settings.ray_actors is not None:
        actors = settings.ray_actors
    elif gpus > 0:
        actors = max(1, math.floor(cluster.get("GPU", 0) / gpus))
    else:
        actors = max(1, math.floor(cluster.get("CPU", 1) / cpus))
    return RayPlan(actors, cpus, gpus, settings.ray_writers, batch_size)


def _dataset(ray: Any, settings: Settings, sources: Sequence[str], tags: tuple[str, ...], plan: RayPlan) -> Any:
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # outcomes in input order: the job's resume point holds
    context.enable_progress_bars = False  # the CLI draws its own, from the outcomes
    values = _shippable(settings)
    blocks = max(1, math.ceil(len(sources) / plan.batch_size))
    items = ray.data.from_items([{"source": name} for name in sources], override_num_blocks=blocks)
    analyzed = items.map_batches(
        ImageAnalyzer,
        fn_constructor_kwargs={"values": values, "threads": max(1, math.ceil(plan.actor_cpus))},
        batch_size=plan.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.actor_cpus,
        num_gpus=plan.actor_gpus or None,
        udf_modifying_row_count=False,
    )
    return analyzed.map_batches(
        BatchWriter,
        fn_constructor_kwargs={"values": values, "tags": tags},
        batch_size=plan.batch_size,
        batch_format="numpy",
        # Each writer stores several batches at once, as the local ingestor does (a bulk write waits for the
        # next refresh): threads in the actor, so a writer costs one process.
        compute=ray.data.ActorPoolStrategy(
            size=plan.writers, max_tasks_in_flight_per_actor=WRITES_AHEAD, enable_true_multi_threading=True
        ),
        ray_remote_args_fn=lambda: {"max_concurrency": WRITES_AHEAD},
        num_cpus=0,  # waits on the stores; the CPUs are the models'
        udf_modifying_row_count=False,
    )


class ImageAnalyzer:
    """A Ray actor with one copy of the models: a batch of source names → processed images, lightened to the
    thumbnail's pixels for the trip to a writer, and the documents of images found already indexed."""

    def __init__(self, values: dict[str, Any], threads: int) -> None:
        settings = Settings(**(values | {"torch_threads": threads}))
        self.pipeline = build_pipeline(settings)
        self.pipeline.load()
        self.index = build_index(settings)
        self.index.ensure(self.pipeline.model_id, self.pipeline.dim)
        self.buckets = minio_client(settings) if settings.uses_s3 else None
        self.fetcher = url_fetcher(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [str(name) for name in batch["source"]]
        already_indexed: dict[str, ImageDocument] = {}

        def is_new(decoded: list[DecodedImage]) -> list[bool]:
            existing = self.index.get_many([image.image_id for image in decoded])
            already_indexed.update(existing)
            return [image.image_id not in existing for image in decoded]

        readers = [(position, self._reader(name)) for position, name in enumerate(names)]
        analyzed: list[Analyzed] = [Analyzed(WorkerFailure("lost", "not processed"))] * len(names)
        for position, item in self.pipeline.process_stream(readers, batch_size=len(names), keep=is_new):
            if isinstance(item, Exception):
                analyzed[position] = Analyzed(WorkerFailure.of(item))
            else:
                analyzed[position] = Analyzed(lightened(item), already_indexed.get(item.decoded.image_id))
        return {"source": np.array(names, dtype=object), "analyzed": objects_column(analyzed)}

    def _reader(self, name: str) -> Callable[[], bytes]:
        return lambda: self._read(name)

    def _read(self, name: str) -> bytes:
        try:
            return read_source(name, self.buckets, self.fetcher)
        except OSError:
            raise
        except Exception as error:
            raise OSError(f"{name}: {error}") from error


def _shippable(settings: Settings) -> dict[str, Any]:
    """The settings as the workers rebuild them: those set in the driver (its environment, .env or arguments),
    secrets as secret objects (Ray moves them inside the cluster; nothing here logs them). Unset ones stay unset,
    so recommendations that apply only to unset settings (the starter models' serving settings) apply there too."""
    return settings.model_dump(exclude_unset=True)


@contextmanager
def ray_connected(settings: Settings) -> Iterator[Any]:
    """Ray connected: to `ray_address`, or to a local Ray started here for this run (and shut down after it);
    a connection made before (by a caller, or an outer `ray_connected`) is used and kept."""
    if not settings.uses_elasticsearch:
        raise InvalidRequest(
            "the Ray engine stores from its workers, which needs Elasticsearch (IMGSEARCH_ES_URL): "
            "the embedded index is one process's"
        )
    address = settings.ray_address
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable(
            "the Ray engine needs Ray: pip install 'imgsearch[ray]' (scripts/setup test has it)"
        ) from error
    if ray.is_initialized():  # a caller (a test, a notebook) connected already: use and keep its connection
        yield ray
        return
    if address and address != "auto":
        _check_reachable(address)  # ray.init would retry an address that does not answer for minutes
    try:
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as error:
        raise RayUnavailable(
            f"no Ray cluster at {address}: {str(error).splitlines()[0] if str(error) else error}"
        ) from error
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"no Ray cluster at {address}: give host:port (the head's GCS) or ray://host:10001")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise RayUnavailable(f"no Ray cluster at {address}: {error.strerror or error}") from error
