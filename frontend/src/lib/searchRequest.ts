// What one search request sends: its image (the file, URL or indexed image, or the session of an earlier search
// of it) and its options (the selection, the filters, the page).
import type { SearchQuery } from "../api/client";
import type { ObjectKind, SearchOptions } from "../api/types";
import { selectionOptions, type Selection } from "./selection";
import { splitTags, tagsProblem } from "./tags";

export type QuerySource =
  | { kind: "file"; file: Blob; name: string; previewUrl: string }
  | { kind: "url"; url: string }
  | { kind: "image"; imageId: string };

export type KindsChoice = "both" | "object" | "image";
const KINDS: Record<KindsChoice, ObjectKind[]> = { both: ["object", "image"], object: ["object"], image: ["image"] };

export interface Filters {
  labels: string;
  tags: string; // comma-separated, as typed
  minSimilarity: number;
  kinds: KindsChoice;
}

/** The image as sent the first time: the file or URL itself, or the indexed image's id. */
export function sourceQuery(source: QuerySource): SearchQuery {
  if (source.kind === "file") return { file: source.file };
  if (source.kind === "url") return { url: source.url };
  return { imageId: source.imageId };
}

/**
 * The image as a later search sends it: by the session an earlier search opened (no upload, no detection
 * again). An indexed image has one only after a drawn region (the server then detects on the original, and the
 * objects it shows are the session's, so later clicks must name the session); otherwise it keeps its id, which
 * costs no detection either.
 */
export function searchQuery(source: QuerySource, queryId: string | null): SearchQuery {
  return queryId ? { queryId } : sourceQuery(source);
}

/** Why the filters cannot be sent as they are (a tag the server would refuse), or null. */
export function filtersProblem(filters: Filters): string | null {
  return tagsProblem(splitTags(filters.tags));
}

export function searchOptions(selection: Selection, filters: Filters, pageSize: number, cursor?: string): SearchOptions {
  const labels = filters.labels
    .split(",")
    .map((label) => label.trim())
    .filter(Boolean);
  const tags = splitTags(filters.tags);
  return {
    k: pageSize,
    ...selectionOptions(selection),
    ...(labels.length ? { labels } : {}),
    ...(tags.length ? { tags } : {}),
    kinds: KINDS[filters.kinds],
    ...(filters.minSimilarity > 0 ? { min_similarity: filters.minSimilarity } : {}),
    ...(cursor ? { cursor } : {}),
  };
}
