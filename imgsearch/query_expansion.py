"""Query expansion: search again with the query averaged with its best match.

Average query expansion with one neighbour (Chum et al. 2007; Radenović et al. 2018 call it alpha-QE with n = 1): the
best stored match of an object query is usually another view of the same thing, in the gallery's own conditions,
so the average of the two reaches views that the query alone ranks lower. On SceneBench's train split it raised
object-query mAP@100 by 0.01 to 0.03 at the cost of a second kNN search (README, "Index and storage").
"""

from __future__ import annotations

import dataclasses

import numpy as np

from imgsearch.index.base import VectorIndex
from imgsearch.index.types import VectorQuery


def expanded_query(index: VectorIndex, query: VectorQuery) -> VectorQuery:
    """`query` with its vector replaced by the normalised sum of itself and its best-matching stored vector.

    The best match is found under the query's own filters (labels, kinds, minimum similarity, excluded images);
    when nothing matches, the query comes back unchanged.
    """
    best = index.search(dataclasses.replace(query, k=1, offset=0, matches_per_image=1)).hits
    if not best or not best[0].matches:
        return query
    stored = index.vectors(best[0].image_id)
    if stored is None:  # deleted between the two calls
        return query
    combined = np.asarray(query.vector, dtype=np.float32) + stored[best[0].matches[0].object_index]
    norm = float(np.linalg.norm(combined))
    if norm < 1e-6:  # the match is the query's opposite: nothing to average
        return query
    return dataclasses.replace(query, vector=(combined / norm).astype(np.float32))


__all__ = ["expanded_query"]
