"""imgsearch: self-hosted search by object over your own images."""

__version__ = "0.1.0"
