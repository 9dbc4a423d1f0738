"""Query sessions: a searched image kept for a while, so choosing another object or drawing a box costs no decode
and no detection, only the vector of what was chosen (kept too) and the kNN search.

Ids are 128 random bits: only someone who was given an id can use it, and it yields nothing the image's bytes
would not. The cache is bounded by entries, by bytes (the models' view of each image dominates) and by age.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace

import numpy as np

from imgsearch.errors import ImgsearchError, NotFound
from imgsearch.metrics import QUERY_SESSION_LOOKUPS
from pipeline.runner import AnalyzedImage

QUERY_ID_PATTERN = r"^q_[A-Za-z0-9_-]{22}$"
# Ids of sessions that ended, remembered (a few bytes each) so a late click hears "expired", not "unknown".
ENDED_IDS_PER_ENTRY = 8


class QueryNotFound(NotFound):
    """No session has this id here (never, or so long ago that even its end is forgotten, or another server)."""

    code = "query_not_found"


class QueryExpired(ImgsearchError):
    """The session existed but was dropped (age or room): search with the image again."""

    code = "query_expired"


@dataclass
class QuerySession:
    query_id: str
    analyzed: AnalyzedImage  # the decoded image holds only the models' view, not the full-size original
    size_bytes: int
    last_used: float
    exclude_ids: tuple[str, ...] = ()  # a query from an indexed image leaves that image out, click after click
    vectors: dict[Hashable, np.ndarray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def vector(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The vector for one query part (an object, a box, the whole image), computed once per session."""
        with self.lock:
            cached = self.vectors.get(key)
        if cached is not None:
            return cached
        vector = compute()
        with self.lock:
            self.vectors.setdefault(key, vector)
            self.size_bytes += vector.nbytes
        return vector


class QuerySessions:
    """A thread-safe LRU of sessions with a time to live."""

    def __init__(
        self, max_entries: int, max_bytes: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self._clock = clock
        self._sessions: OrderedDict[str, QuerySession] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, analyzed: AnalyzedImage, exclude_ids: tuple[str, ...] = ()) -> QuerySession:
        """Keep an analysed query image; the full-size pixels are dropped, the models' view is kept."""
        slim = replace(analyzed, decoded=replace(analyzed.decoded, image=analyzed.view.image))
        view = analyzed.view.image
        size = view.width * view.height * len(view.getbands()) + analyzed.view_boxes_xyxy.nbytes * 2
        session = QuerySession("q_" + secrets.token_urlsafe(16), slim, size, self._clock(), exclude_ids)
        if self.max_entries == 0 or size > self.max_bytes:
            return session  # usable for this request only
        with self._lock:
            self._sessions[session.query_id] = session
            self._evict(self._clock())
        return session

    def get(self, query_id: str) -> QuerySession:
        now = self._clock()
        with self._lock:
            self._evict(now)
            session = self._sessions.get(query_id)
            outcome = "found" if session else "expired" if query_id in self._ended else "unknown"
            QUERY_SESSION_LOOKUPS.labels(outcome).inc()
            if session is None:
                if query_id in self._ended:
                    raise QueryExpired(f"query {query_id} has expired: search with the image again")
                raise QueryNotFound(f"no query {query_id}: it may have expired, or come from another server; search "
                               "with the image again")  # fmt: skip
            session.last_used = now
            self._sessions.move_to_end(query_id)
            return session

    def __len__(self) -> int:
        return len(self._sessions)

    def size_bytes(self) -> int:
        with self._lock:
            return sum(session.size_bytes for session in self._sessions.values())

    def _evict(self, now: float) -> None:
        """Drop expired sessions, then the least recently used while over a bound; call with the lock held."""
        for query_id in [qid for qid, s in self._sessions.items() if now - s.last_used > self.ttl_s]:
            self._end(query_id)
        total = sum(session.size_bytes for session in self._sessions.values())
        while self._sessions and (len(self._sessions) > self.max_entries or total > self.max_bytes):
            query_id = next(iter(self._sessions))
            total -= self._sessions[query_id].size_bytes
            self._end(query_id)

    def _end(self, query_id: str) -> None:
        del self._sessions[query_id]
        self._ended[query_id] = None
        while len(self._ended) > max(self.max_entries, 1) * ENDED_IDS_PER_ENTRY:
            self._ended.popitem(last=False)
