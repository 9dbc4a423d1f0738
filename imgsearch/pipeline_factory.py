"""Build the pipeline's plain configuration from the settings object."""

from __future__ import annotations

from imgsearch.settings import Settings
from imgsearch.starter_models import SERVING_SETTINGS, with_starter_models
from pipeline.config import DetectorConfig, EmbedderConfig, PipelineConfig
from pipeline.decode import DecodeLimits
from pipeline.runner import Pipeline


def pipeline_config(settings: Settings) -> PipelineConfig:
    config = _configured(settings)
    if settings.models != "starter":
        return config
    # The manifest's recommended detector settings, except those set explicitly.
    return with_starter_models(config, recommended=set(SERVING_SETTINGS) - settings.model_fields_set)


def _configured(settings: Settings) -> PipelineConfig:
    return PipelineConfig(
        detector=DetectorConfig(
            weights=settings.detector_weights,
            checkpoint=settings.detector_checkpoint,
            image_size=settings.detector_image_size,
            confidence=settings.detector_confidence,
            iou=settings.detector_iou,
            max_objects=settings.detector_max_objects,
            min_box_side=settings.detector_min_box_side,
            labels=tuple(settings.detector_labels),
            augment=settings.detector_augment,
            runtime=settings.detector_runtime,
        ),
        embedder=EmbedderConfig(
            model_name=settings.embedder_model,
            image_size=settings.embedder_image_size,
            checkpoint=settings.embedder_checkpoint,
            pretrained=settings.embedder_pretrained,
            batch_size=settings.embedder_batch_size,
            runtime=settings.embedder_runtime,
        ),
        limits=DecodeLimits(
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_pixels,
            min_side=settings.min_image_side,
            model_max_side=settings.model_max_side,
        ),
        crop_margin=settings.crop_margin,
        model_cache_dir=settings.model_cache_dir,
        device=settings.device,
        torch_threads=settings.torch_threads,
        decode_workers=settings.decode_workers,
        model_lanes=settings.model_lanes,
        seed=settings.seed,
    )


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline the settings describe; models load on first use (or `Pipeline.load()`)."""
    return Pipeline.from_config(pipeline_config(settings))
