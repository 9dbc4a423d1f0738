// The Search page's state: what the query is, which part of it is used, the filters, and the result pages.
import { computed, reactive, ref, shallowRef } from "vue";

import { api, messageOf, sessionGone } from "../api/client";
import type { BBox, QueryPublic, SearchOptions, SearchResponse, SearchResult } from "../api/types";
import { filtersProblem, searchOptions, searchQuery, sourceQuery, type Filters, type QuerySource } from "./searchRequest";
import { AUTO, WHOLE_IMAGE, describeUsed, withBox, withObject, type Selection } from "./selection";

export type { Filters, KindsChoice, QuerySource } from "./searchRequest";

const PAGE_SIZE = 24;

export function useSearch() {
  const source = shallowRef<QuerySource | null>(null);
  // The session of the last search of an uploaded file or URL: later searches name it instead of sending the image.
  const queryId = ref<string | null>(null);
  const selection = shallowRef<Selection>(AUTO);
  const filters = reactive<Filters>({ labels: "", tags: "", minSimilarity: 0, kinds: "both" });
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

  /** Search by the session if there is one; a session the server has dropped costs one upload of the image again. */
  async function send(current: QuerySource, options: SearchOptions, signal: AbortSignal): Promise<SearchResponse> {
    const sent = searchQuery(current, queryId.value);
    try {
      return await api.search(sent, options, signal);
    } catch (caught) {
      if (!("queryId" in sent) || !sessionGone(caught)) throw caught;
      queryId.value = null;
      return await api.search(sourceQuery(current), options, signal);
    }
  }

  async function run(more = false) {
    const current = source.value;
    if (!current) return;
    controller?.abort();
    const problem = filtersProblem(filters);
    if (problem) {
      // Named here rather than by a 422: the results shown would not be those of the filters as typed.
      controller = null;
      loading.value = null;
      error.value = problem;
      results.value = [];
      nextCursor.value = null;
      return;
    }
    const mine = (controller = new AbortController());
    loading.value = more ? "more" : "search";
    error.value = null;
    const cursor = more ? (nextCursor.value ?? undefined) : undefined;
    try {
      const response = await send(current, searchOptions(selection.value, filters, PAGE_SIZE, cursor), mine.signal);
      queryId.value = response.query_id;
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

  function forget() {
    const previous = source.value;
    if (previous?.kind === "file") URL.revokeObjectURL(previous.previewUrl);
    queryId.value = null;
    selection.value = AUTO;
    query.value = null;
    results.value = [];
    nextCursor.value = null;
  }

  /** A new query image: searched at once by its main object, which the server picks. */
  function setSource(next: QuerySource) {
    forget();
    source.value = next;
    void run();
  }

  function select(next: Selection) {
    if (next === selection.value) return; // nothing to change (the last part, or one part too many)
    selection.value = next;
    void run();
  }

  /** A click on a detected object: search by it alone, or (`additive`) add it to or take it out of the parts. */
  function pickObject(index: number, additive: boolean) {
    if (query.value) select(withObject(selection.value, query.value, index, additive));
  }

  function pickRegion(box: BBox, additive: boolean) {
    if (query.value) select(withBox(selection.value, query.value, box, additive));
  }

  function pickWholeImage() {
    select(WHOLE_IMAGE);
  }

  function clear() {
    controller?.abort();
    forget();
    source.value = null;
    error.value = null;
    loading.value = null;
  }

  return {
    source,
    queryId,
    selection,
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
    pickObject,
    pickRegion,
    pickWholeImage,
    search: () => run(false),
    loadMore: () => run(true),
    clear,
  };
}

export type SearchState = ReturnType<typeof useSearch>;
