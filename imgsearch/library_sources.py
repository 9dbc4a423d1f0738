"""What `imgsearch index` reads: files and folders on this machine, a bucket prefix, a list of paths and URLs.

A folder is walked recursively without following a link out of it, and a file counts as an image by its first
bytes, not by its name (phone exports carry upper-case, missing or wrong extensions). Each source is a name and
a reader, as the ingestor takes them; readers run later, in the pipeline's worker threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minio import Minio

from imgsearch.errors import InvalidRequest
from imgsearch.jobs import Source, bucket_sources, object_reader
from imgsearch.url_fetch import UrlFetcher
from pipeline.decode import SIGNATURE_BYTES, looks_like_an_image


@dataclass
class Listing:
    sources: list[Source]
    not_images: list[str]  # files skipped because their content is no accepted image


def list_sources(
    arguments: list[str], buckets: Minio | None, fetcher: UrlFetcher | None, list_file: Path | None = None
) -> Listing:
    """Every source the arguments name, in a stable order (so a second run walks them the same way)."""
    listing = Listing([], [])
    named = list(arguments)
    if list_file is not None:
        named += [line.strip() for line in list_file.read_text().splitlines() if line.strip() and line[0] != "#"]
    for argument in named:
        if argument.startswith("s3://"):
            listing.sources += _bucket(argument, buckets)
        elif argument.startswith(("http://", "https://")):
            if fetcher is None:
                raise InvalidRequest(f"{argument}: fetching URLs is not available here")
            listing.sources.append((argument, _url_reader(fetcher, argument)))
        else:
            _add_local(Path(argument), listing)
    return listing


def read_source(name: str, buckets: Minio | None, fetcher: UrlFetcher | None) -> bytes:
    """A listed source's bytes by its name alone (`file://…`, `s3://bucket/key`, a URL), for engines whose workers
    get names rather than the readers a listing holds."""
    if name.startswith("file://"):
        return Path(name.removeprefix("file://")).read_bytes()
    if name.startswith("s3://"):
        if buckets is None:
            raise InvalidRequest(f"{name}: no MinIO/S3 is configured (IMGSEARCH_S3_ENDPOINT)")
        bucket, _, key = name.removeprefix("s3://").partition("/")
        return object_reader(buckets, bucket, key)()
    if name.startswith(("http://", "https://")) and fetcher is not None:
        return fetcher.fetch(name).data
    raise InvalidRequest(f"{name}: not a source this worker can read")


def _bucket(argument: str, buckets: Minio | None) -> list[Source]:
    if buckets is None:
        raise InvalidRequest(f"{argument}: no MinIO/S3 is configured (IMGSEARCH_S3_ENDPOINT)")
    bucket, _, prefix = argument.removeprefix("s3://").partition("/")
    return bucket_sources(buckets, bucket, prefix)


def _url_reader(fetcher: UrlFetcher, url: str) -> Callable[[], bytes]:
    return lambda: fetcher.fetch(url).data


def _add_local(path: Path, listing: Listing) -> None:
    if path.is_dir():
        for file in _walk(path.resolve()):
            _add_file(file, listing)
    elif path.is_file():
        _add_file(path.resolve(), listing)
    else:
        raise InvalidRequest(f"{path} is not a file, a folder, s3://bucket/prefix or a URL")


def _walk(root: Path) -> Iterator[Path]:
    """Files under root, sorted, never through a link that leads out of it."""
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        subdirectories.sort()
        for name in sorted(files):
            real = (Path(directory) / name).resolve()
            if real.is_relative_to(root) and real.is_file():
                yield real


def _add_file(path: Path, listing: Listing) -> None:
    try:
        with path.open("rb") as opened:
            head = opened.read(SIGNATURE_BYTES)
    except OSError:
        listing.sources.append((f"file://{path}", _failing_reader(path)))
        return
    if looks_like_an_image(head):
        listing.sources.append((f"file://{path}", path.read_bytes))
    else:
        listing.not_images.append(str(path))


def _failing_reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes  # reading again raises the same OSError, which the job records as a failure
