"""URL downloads for the API: one deadline for all URLs of a request, and a cap on downloads at once.

Each download holds a worker thread while it waits on a slow host. They run on their own limiter, not in the
thread pool every other route shares, so a flood of slow URLs queues here and `/healthz` keeps answering.
"""

from __future__ import annotations

import time

import anyio
from anyio import to_thread

from imgsearch.errors import ImgsearchError
from imgsearch.url_fetch import UrlFetcher


class UrlDownloads:
    def __init__(self, fetcher: UrlFetcher, concurrency: int, request_timeout_s: float) -> None:
        self.fetcher = fetcher
        self.concurrency = concurrency
        self.request_timeout_s = request_timeout_s
        self._limiter: anyio.CapacityLimiter | None = None

    def _shared_limiter(self) -> anyio.CapacityLimiter:
        # Made on first use: an anyio limiter belongs to the running event loop, and start-up runs in a thread.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def fetch(self, url: str, deadline: float | None = None) -> bytes:
        """The bytes at `url`, by `deadline` (monotonic; default: the request timeout from now)."""
        deadline = deadline if deadline is not None else time.monotonic() + self.request_timeout_s
        fetched = await to_thread.run_sync(self.fetcher.fetch, url, deadline, limiter=self._shared_limiter())
        return fetched.data

    async def fetch_all(self, urls: list[str]) -> list[bytes | Exception]:
        """Every URL at once under one deadline; each failure (refused, too large, timed out) stands in its place."""
        deadline = time.monotonic() + self.request_timeout_s
        results: list[bytes | Exception] = [ImgsearchError("not fetched")] * len(urls)

        async def fetch_one(position: int, url: str) -> None:
            try:
                results[position] = await self.fetch(url, deadline)
            except ImgsearchError as error:
                results[position] = error

        async with anyio.create_task_group() as downloads:
            for position, url in enumerate(urls):
                downloads.start_soon(fetch_one, position, url)
        return results
