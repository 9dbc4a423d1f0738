"""Cut object crops out of the models' view of an image (a pure function of the image and the boxes)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.geometry import pad_boxes, pixel_boxes


def crop_boxes(image: Image.Image, boxes_xyxy: np.ndarray, margin: float) -> list[Image.Image]:
    """One crop per box (in `image`'s pixels), each padded by `margin` of its size and clamped to the image."""
    if len(boxes_xyxy) == 0:
        return []
    padded = pad_boxes(boxes_xyxy, margin, image.width, image.height)
    return [image.crop(tuple(int(v) for v in rect)) for rect in pixel_boxes(padded)]
