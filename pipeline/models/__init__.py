"""The models behind the pipeline: a YOLO detector and a timm embedder, each loaded once and reused."""
