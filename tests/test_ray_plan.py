"""The Ray engine's pure parts: how a run is spread over a cluster, and failures that survive the trip home."""

from __future__ import annotations

import pickle

import pytest

from imgsearch.ray_engine import plan_for
from imgsearch.ray_writer import WorkerFailure
from imgsearch.settings import Settings
from pipeline.errors import ImageRejected, RejectCode


def settings(**values: object) -> Settings:
    return Settings.model_validate({"es_url": None, "s3_endpoint": None} | values)


@pytest.mark.parametrize(
    ("values", "cluster", "actors"),
    [
        ({}, {"CPU": 2.0}, 2),  # one model copy per CPU by default
        ({"ray_actor_cpus": 2}, {"CPU": 8.0}, 4),
        ({"ray_actor_cpus": 4}, {"CPU": 2.0}, 1),  # never none
        ({"ray_actor_gpus": 1}, {"CPU": 32.0, "GPU": 3.0}, 3),  # GPUs decide when asked for
        ({"ray_actor_gpus": 0.5}, {"CPU": 32.0, "GPU": 2.0}, 4),
        ({"ray_actors": 6}, {"CPU": 2.0}, 6),  # said explicitly
    ],
)
def test_the_plan_fits_model_copies_to_the_cluster(
    values: dict[str, object], cluster: dict[str, float], actors: int
) -> None:
    plan = plan_for(settings(**values), cluster, batch_size=8)
    assert (plan.actors, plan.batch_size, plan.writers) == (actors, 8, 1)


def test_a_workers_failure_reaches_the_driver_with_its_code_and_message() -> None:
    rejected = ImageRejected(RejectCode.CORRUPT, "unreadable image header")
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(rejected))  # why WorkerFailure exists: two-argument exceptions do not survive
    shipped = pickle.loads(pickle.dumps(WorkerFailure.of(rejected)))
    assert (shipped.code, str(shipped)) == ("corrupt", "unreadable image header")
    missing = pickle.loads(pickle.dumps(WorkerFailure.of(FileNotFoundError(2, "No such file", "/photos/a.jpg"))))
    assert missing.code == "FileNotFoundError" and "/photos/a.jpg" in str(missing)
