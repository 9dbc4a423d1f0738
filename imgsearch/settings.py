"""One settings object for the whole product, read from `IMGSEARCH_*` environment variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imgsearch.index.es_mapping import REPLICAS_PATTERN, ShardLayout

REPO_ROOT = Path(__file__).resolve().parent.parent

Port = Annotated[int, Field(ge=1, le=65535)]


class Settings(BaseSettings):
    """Every knob of imgsearch. Bad values fail at start-up, not at the first request."""

    model_config = SettingsConfigDict(
        env_prefix="IMGSEARCH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Elasticsearch. None selects the embedded index (no servers).
    es_url: AnyHttpUrl | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_index_alias: str = Field(default="imgsearch-images", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    # Bounded so a request fails fast (503) when a server hangs: at worst timeout x (1 + retries) seconds.
    es_request_timeout_s: float = Field(default=10.0, gt=0)
    es_max_retries: int = Field(default=2, ge=0, le=10)
    num_candidates: int = Field(default=100, ge=1, le=10_000, description="kNN candidates per shard (ES) / ef")
    # Of a new index (README "At scale" sizes them); an existing index keeps its own.
    es_shards: int = Field(default=1, ge=1, le=1024, description="primary shards of a new index")
    es_replicas: str = Field(
        default="0-1", pattern=REPLICAS_PATTERN, description="copies of each shard: N, or a range fitted to the nodes"
    )
    # Search again with the query averaged with its best match (imgsearch/query_expansion.py): a second kNN
    # search for better recall of other views of the same object. A request can turn it off with `expand`.
    query_expansion: bool = True
    # A search with no object, box or target uses the query's main object (README, "Searching").
    main_object_rule: Literal["score", "prominence"] = "score"
    # Fold a query's overlapping detections of one object (copies, parts) into one box (pipeline/query_objects.py).
    query_merge_boxes: bool = True
    # Matched boxes a result shows by default: its best and those this close to it (imgsearch/relevant_matches.py).
    match_margin: float = Field(default=0.05, ge=0, le=2)
    # Query sessions: a searched image kept so that choosing another object costs no detection.
    query_sessions: int = Field(default=256, ge=0, description="sessions kept at once (0: none)")
    query_sessions_max_bytes: int = Field(default=256 * 1024 * 1024, ge=0, description="all sessions together")
    query_session_ttl_s: float = Field(default=1800.0, gt=0, description="idle time after which a session ends")
    # A sync job that adds at least this many images runs `imgsearch optimize` after it (0: never).
    optimize_after_import: int = Field(default=1000, ge=0)

    # S3-compatible blob store (MinIO). None selects the filesystem store.
    s3_endpoint: str | None = Field(default=None, description="host:port, without scheme")
    s3_access_key: str = "imgsearch"
    s3_secret_key: SecretStr = SecretStr("imgsearch-dev-secret")
    s3_secure: bool = False
    s3_region: str | None = None
    s3_bucket_originals: str = Field(default="imgsearch-originals", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    s3_bucket_thumbnails: str = Field(default="imgsearch-thumbnails", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    s3_connect_timeout_s: float = Field(default=3.0, gt=0)
    s3_read_timeout_s: float = Field(default=20.0, gt=0)
    s3_max_retries: int = Field(default=2, ge=0, le=10)
    s3_batch_uploads: bool = Field(
        default=True, description="a batch's small blobs in one request MinIO extracts (checked, else one each)"
    )

    # Local state: the embedded back end's files and the model cache.
    data_dir: Path = REPO_ROOT / "var" / "data"
    model_cache_dir: Path = REPO_ROOT / "var" / "models"
    mappings_dir: Path = REPO_ROOT / "es_mappings"

    # Input limits (decompression-bomb guard included) and the models' working size.
    max_upload_bytes: int = Field(default=30 * 1024 * 1024, gt=0)
    max_pixels: int = Field(default=40_000_000, gt=0)
    min_image_side: int = Field(default=32, ge=1)
    model_max_side: int = Field(default=1280, ge=64)

    # "starter": the small SceneBench-trained models committed in imgsearch/starter (offline, for the demo and
    # tests; they know emoji, not photos). "pretrained": the detector_* and embedder_* settings below.
    models: Literal["pretrained", "starter"] = "pretrained"

    # Detector (ultralytics YOLO): a weights name looked up in the model cache, a path, or a model yaml.
    detector_weights: str = "yolo11n.pt"
    detector_checkpoint: Path | None = Field(default=None, description="safetensors for a yaml detector")
    detector_image_size: int = Field(default=640, ge=32)
    detector_confidence: float = Field(default=0.25, ge=0, le=1)
    detector_iou: float = Field(default=0.5, gt=0, le=1)
    detector_max_objects: int = Field(default=20, ge=0)
    detector_min_box_side: float = Field(default=16.0, ge=0)
    detector_labels: list[str] = Field(default_factory=list, description="allow-list; empty keeps every label")
    detector_runtime: Literal["auto", "pytorch", "onnxruntime"] = Field(
        default="auto",
        description="auto: onnxruntime on a CPU (equal boxes, 1.4x yolo11n), pytorch on a GPU or the starter models",
    )
    detector_augment: Literal["none", "queries", "all"] = Field(
        default="none", description="test-time augmentation for query images or all images: about 3x detection time"
    )

    # Embedder (timm): pooled features, L2-normalised. See the README for why this default.
    embedder_model: str = "vit_small_patch14_dinov2.lvd142m"
    embedder_image_size: int | None = Field(default=224, ge=16)
    embedder_checkpoint: Path | None = None
    embedder_pretrained: bool = True
    embedder_batch_size: int = Field(default=32, ge=1)
    embedder_runtime: Literal["auto", "pytorch", "onnxruntime", "openvino"] = Field(
        default="auto",
        description="auto: openvino on a CPU (vectors checked equal; 1.1-1.2x ViT-S/14 embedding), pytorch on a GPU",
    )
    crop_margin: float = Field(default=0.1, ge=0, le=1)

    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")
    torch_threads: int | None = Field(default=None, ge=1)
    decode_workers: int = Field(default=2, ge=1)
    model_lanes: int | None = Field(
        default=None, ge=1, description="batches a stream runs through the models at once; unset: 2 on CPUs, 1 on GPUs"
    )
    seed: int = 0

    # Bulk indexing on Ray (`imgsearch index --engine ray`): see README "At scale".
    ray_address: str | None = Field(default=None, description="a Ray cluster (ray://host:10001 or host:6379)")
    ray_actor_cpus: float = Field(default=1.0, gt=0, description="CPUs per model copy (its torch threads)")
    ray_actor_gpus: float = Field(default=0.0, ge=0, description="GPUs per model copy (num_gpus; 0 on CPUs)")
    ray_actors: int | None = Field(default=None, ge=1, description="model copies; unset: as the cluster's CPUs allow")
    ray_writers: int = Field(default=1, ge=1, description="writer actors, each storing 4 batches at once")

    # HTTP server.
    host: str = "127.0.0.1"
    port: Port = 8000
    api_key: SecretStr | None = Field(default=None, description="required for writes when set")
    cors_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(default=200 * 1024 * 1024, gt=0, description="a whole request, all files")
    max_json_bytes: int = Field(default=256 * 1024, gt=0, description="a JSON request body (URLs, search options)")
    max_header_count: int = Field(default=100, ge=8)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, description="all request headers together")
    model_workers: int = Field(default=4, ge=1, description="requests the API works on at once")
    model_batch_wait_ms: float = Field(
        default=2.0, ge=0, le=100, description="how long a model call waits for others to share its batch (0: none)"
    )
    model_queue: int = Field(default=8, ge=0, description="requests that may wait; more get 503")
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    sync_folders: list[Path] = Field(default_factory=list, description="server folders a sync job may read")

    # Fetching images by URL (SSRF-safe: private and loopback addresses are refused).
    url_fetch_timeout_s: float = Field(default=10.0, gt=0, description="one URL, redirects included")
    url_fetch_request_timeout_s: float = Field(default=20.0, gt=0, description="all URLs of one request")
    url_fetch_concurrency: int = Field(default=8, ge=1, description="URL downloads at once, all requests together")
    url_fetch_allowed_networks: list[str] = Field(
        default_factory=list, description="CIDRs allowed despite being private (for tests and trusted LANs)"
    )

    @field_validator(
        "api_key",
        "es_password",
        "embedder_image_size",
        "embedder_checkpoint",
        "detector_checkpoint",
        "torch_threads",
        "model_lanes",
        "ray_address",
        "ray_actors",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `IMGSEARCH_API_KEY=` in .env means "no key", not "the empty key"; likewise for other optional values.
        return None if value == "" else value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_has_no_scheme(cls, endpoint: str | None) -> str | None:
        if endpoint and "://" in endpoint:
            raise ValueError("give host:port without a scheme; use IMGSEARCH_S3_SECURE for https")
        return endpoint or None

    @property
    def shard_layout(self) -> ShardLayout:
        return ShardLayout(self.es_shards, self.es_replicas)

    @property
    def uses_elasticsearch(self) -> bool:
        return self.es_url is not None

    @property
    def uses_s3(self) -> bool:
        return self.s3_endpoint is not None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once (tests build their own `Settings(...)` instead)."""
    return Settings()
