"""The embedded back end: SQLite is the source of truth, a usearch HNSW graph over object vectors answers kNN.

Every write commits one SQLite transaction before the graph is touched; a JSON file beside the graph file names
the SQLite generation it reflects, with its checksum. On open, a missing, corrupt or newer graph file is rebuilt
from SQLite and an older one is brought forward by replaying the objects added and the keys removed since, so a
process killed at any moment comes back with exactly the committed data. Search follows the Elasticsearch back
end's nested kNN: object vectors compete, each image appears once, ranked by its best object, with its matches.

Modules: `store` (SQLite reads and writes) over `schema` (tables, rows to and from our types); `graph` (the graph
in memory: recover, change, save) over `graph_file` (its file and checksummed state); `locks`; `search`
(candidate widening, filtering, grouping into hits); `index` (`EmbeddedIndex`, the interface over them all);
`generations` (one directory per data generation, and the pointer to the one in use, for `imgsearch reindex`).
"""

from imgsearch.index.embedded.graph_file import ANN_FILE, ANN_STATE_FILE
from imgsearch.index.embedded.index import EmbeddedIndex
from imgsearch.index.embedded.locks import LOCK_FILE
from imgsearch.index.embedded.search import CANDIDATES_PER_IMAGE, EXACT_SCAN_FACTOR
from imgsearch.index.embedded.store import DB_FILE, REBUILD_CHUNK_ROWS

__all__ = [
    "ANN_FILE",
    "ANN_STATE_FILE",
    "CANDIDATES_PER_IMAGE",
    "DB_FILE",
    "EXACT_SCAN_FACTOR",
    "LOCK_FILE",
    "REBUILD_CHUNK_ROWS",
    "EmbeddedIndex",
]
