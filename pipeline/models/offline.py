"""Keep model libraries off the network unless a command asks for downloads, and say how to get weights.

The flags are read by ultralytics and huggingface_hub when they are imported, so this module must be imported
(and `allow_downloads` called, where wanted) before them.
"""

from __future__ import annotations

import os

OFFLINE_FLAGS = ("YOLO_OFFLINE", "HF_HUB_OFFLINE")


class ModelWeightsMissing(RuntimeError):
    """Configured weights are not on this machine and nothing may be downloaded."""

    def __init__(self, what: str, cache_dir: str) -> None:
        super().__init__(
            f"{what} is not in the model cache ({cache_dir}). On a connected machine run "
            f"`imgsearch models fetch` and copy the cache folder here (IMGSEARCH_MODEL_CACHE_DIR), "
            "or point the settings at local weight files."
        )


def allow_downloads() -> None:
    """For `imgsearch models fetch` only: must run before ultralytics or timm is imported."""
    for flag in OFFLINE_FLAGS:
        os.environ[flag] = "0"


def undo_ultralytics_pillow_patch() -> None:
    """Ultralytics replaces `PIL.Image.open` with a wrapper that pip-installs a HEIF plugin on unknown input.

    Our decoder must refuse unknown bytes, not install packages: put Pillow's own function back.
    """
    from PIL import Image
    from ultralytics.utils import patches

    Image.open = patches._image_open


for _flag in OFFLINE_FLAGS:
    os.environ.setdefault(_flag, "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_VERBOSE", "False")
