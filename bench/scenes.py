"""Generated benchmark scenes shared by the benchmarks (run as scripts, so this sits beside them)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def generated_jpegs(count: int, seed: int) -> list[bytes]:
    """640x480 scenes: gradient or noise backgrounds with five to eight filled shapes."""
    rng = np.random.default_rng(seed)
    payloads = []
    for _ in range(count):
        base = (
            rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) // 3
            + np.linspace(0, 150, 640, dtype=np.uint8)[None, :, None]
        )
        image = Image.fromarray(base.astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(5, 9))):
            x, y = (int(v) for v in rng.integers(0, [560, 400]))
            w, h = (int(v) for v in rng.integers(30, 120, 2))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            shape = rng.integers(0, 3)
            if shape == 0:
                draw.rectangle((x, y, x + w, y + h), fill=colour)
            elif shape == 1:
                draw.ellipse((x, y, x + w, y + h), fill=colour)
            else:
                draw.polygon([(x, y + h), (x + w // 2, y), (x + w, y + h)], fill=colour)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        payloads.append(buffer.getvalue())
    return payloads
