// The Search page's state: what the query is, which part of it is used, the filters, and the result pages.
import { computed, reactive, ref, shallowRef } from "vue";

import { api, messageOf, type SearchQuery } from "../api/client";
import type { BBox, ObjectKind, QueryPublic, SearchOptions, SearchResult } from "../api/types";
import { sameBox } from "./boxes";

export type QuerySource =
  | { kind: "file"; file: Blob; name: string; previewUrl: string }
  | { kind: "url"; url: string }
  | { kind: "image"; imageId: string };

/** The part of the query image searched with; null lets the server use the whole image. */
export type Focus = { object: number } | { box: BBox } | null;

export type KindsChoice = "both" | "object" | "image";
const KINDS: Record<KindsChoice, ObjectKind[]> = { both: ["object", "image"], object: ["object"], image: ["image"] };
const PAGE_SIZE = 24;

export interface Filters {
  labels: string;
  minSimilarity: number;
  kinds: KindsChoice;
}

/** How the search actually ran, read from the API's `query.used`. */
export type Used = { kind: "object"; index: number; label: string } | { kind: "region"; bbox: BBox } | { kind: "whole" };

export function describeUsed(query: QueryPublic): Used {
  const { bbox, label } = query.used;
  if (label === "region") return { kind: "region", bbox };
  const index = query.objects.findIndex((obj) => obj.label === label && sameBox(obj.bbox, bbox));
  if (index >= 0) return { kind: "object", index, label };
  return { kind: "whole" };
}

export function useSearch() {
  const source = shallowRef<QuerySource | null>(null);
  const focus = shallowRef<Focus>(null);
  const filters = reactive<Filters>({ labels: "", minSimilarity: 0, kinds: "both" });
  const query = shallowRef<QueryPublic | null>(null);
  const results = ref<SearchResult[]>([]);
  const nextCursor = ref<string | null>(null);
  const loading = ref<"search" | "more" | null>(null);
  const error = ref<string | null>(null);
  const tookMs = ref<number | null>(null);
  let controller: AbortController | null = null;

  const used = computed(() => (query.value ? describeUsed(query.value) : null));
  const querySrc = computed(() => {
    const current = source.value;
    if (!current) return null;
    if (current.kind === "file") return current.previewUrl;
    if (current.kind === "url") return current.url;
    return `/api/v1/images/${current.imageId}/content`;
  });

  function options(cursor?: string): SearchOptions {
    const labels = filters.labels
      .split(",")
      .map((label) => label.trim())
      .filter(Boolean);
    const chosen = focus.value;
    return {
      k: PAGE_SIZE,
      ...(chosen && "object" in chosen ? { object: chosen.object } : {}),
      ...(chosen && "box" in chosen ? { box: chosen.box } : {}),
      ...(labels.length ? { labels } : {}),
      kinds: KINDS[filters.kinds],
      ...(filters.minSimilarity > 0 ? { min_similarity: filters.minSimilarity } : {}),
      ...(cursor ? { cursor } : {}),
    };
  }

  function request(current: QuerySource): SearchQuery {
    if (current.kind === "file") return { file: current.file };
    if (current.kind === "url") return { url: current.url };
    return { imageId: current.imageId };
  }

  async function run(more = false) {
    const current = source.value;
    if (!current) return;
    controller?.abort();
    const mine = (controller = new AbortController());
    loading.value = more ? "more" : "search";
    error.value = null;
    try {
      const response = await api.search(request(current), options(more ? (nextCursor.value ?? undefined) : undefined), mine.signal);
      query.value = response.query;
      results.value = more ? [...results.value, ...response.results] : response.results;
      nextCursor.value = response.next_cursor;
      tookMs.value = response.took_ms;
    } catch (caught) {
      if (mine.signal.aborted) return;
      error.value = messageOf(caught);
      if (!more) {
        results.value = [];
        nextCursor.value = null;
      }
    } finally {
      if (controller === mine) loading.value = null;
    }
  }

  function setSource(next: QuerySource) {
    const previous = source.value;
    if (previous?.kind === "file") URL.revokeObjectURL(previous.previewUrl);
    source.value = next;
    focus.value = null;
    query.value = null;
    results.value = [];
    void run();
  }

  function setFocus(next: Focus) {
    focus.value = next;
    void run();
  }

  function clear() {
    controller?.abort();
    const previous = source.value;
    if (previous?.kind === "file") URL.revokeObjectURL(previous.previewUrl);
    source.value = null;
    focus.value = null;
    query.value = null;
    results.value = [];
    nextCursor.value = null;
    error.value = null;
    loading.value = null;
  }

  return {
    source,
    focus,
    filters,
    query,
    used,
    querySrc,
    results,
    nextCursor,
    loading,
    error,
    tookMs,
    setSource,
    setFocus,
    search: () => run(false),
    loadMore: () => run(true),
    clear,
  };
}

export type SearchState = ReturnType<typeof useSearch>;
