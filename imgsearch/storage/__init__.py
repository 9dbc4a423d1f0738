"""Blob stores for originals and thumbnails: MinIO (S3) or the filesystem."""
