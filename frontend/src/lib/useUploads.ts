// Uploading many files: a few per request (the model batches them), two requests at a time, one outcome per file.
import { computed, ref } from "vue";

import { ApiError, api, messageOf } from "../api/client";
import type { IngestResponse } from "../api/types";
import { indexChanged } from "./indexEvents";

export type UploadStatus = "queued" | "uploading" | "new" | "duplicate" | "failed";

export interface UploadItem {
  key: number;
  file: File;
  status: UploadStatus;
  message?: string;
  imageId?: string;
  objects?: number;
}

const FILES_PER_REQUEST = 8;
const BYTES_PER_REQUEST = 48 * 1024 * 1024;
const PARALLEL_REQUESTS = 2;
// Statuses where one bad file sank the whole request: send those files one by one to learn which.
const PER_FILE_STATUSES = new Set([413, 415, 422]);

/** Requests of a few files each; a request never carries two files of one name, so outcomes map back by name. */
export function chunkUploads<T extends { file: File }>(items: T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const clash = current.some((other) => other.file.name === item.file.name);
    if (current.length && (clash || current.length >= FILES_PER_REQUEST || bytes + item.file.size > BYTES_PER_REQUEST)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.file.size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** The API lists successes in upload order and failures by `upload:<name>`; give each file its own. */
function applyResponse(chunk: UploadItem[], response: IngestResponse) {
  const failures = new Map(response.failed.map((failure) => [failure.source, failure.error.message]));
  const images = response.images[Symbol.iterator]();
  for (const item of chunk) {
    const failure = failures.get(`upload:${item.file.name}`);
    if (failure !== undefined) {
      Object.assign(item, { status: "failed", message: failure });
      continue;
    }
    const image = images.next().value;
    if (!image) Object.assign(item, { status: "failed", message: "the server sent no result for this file" });
    else
      Object.assign(item, {
        status: image.duplicate ? "duplicate" : "new",
        imageId: image.id,
        objects: image.objects.length,
        message: undefined,
      });
  }
}

export function useUploads() {
  const items = ref<UploadItem[]>([]);
  const running = ref(false);
  let nextKey = 0;

  const counts = computed(() => {
    const tally: Record<UploadStatus, number> = { queued: 0, uploading: 0, new: 0, duplicate: 0, failed: 0 };
    for (const item of items.value) tally[item.status] += 1;
    return tally;
  });

  async function send(chunk: UploadItem[]): Promise<void> {
    for (const item of chunk) item.status = "uploading";
    try {
      applyResponse(chunk, await api.ingestFiles(chunk.map((item) => item.file)));
      indexChanged();
    } catch (error) {
      if (chunk.length > 1 && error instanceof ApiError && PER_FILE_STATUSES.has(error.status)) {
        for (const item of chunk) await send([item]);
        return;
      }
      for (const item of chunk) Object.assign(item, { status: "failed", message: messageOf(error) });
    }
  }

  async function drain() {
    if (running.value) return;
    running.value = true;
    try {
      for (;;) {
        const queued = items.value.filter((item) => item.status === "queued");
        if (!queued.length) break;
        const chunks = chunkUploads(queued).slice(0, PARALLEL_REQUESTS);
        await Promise.all(chunks.map(send));
      }
    } finally {
      running.value = false;
    }
  }

  function add(files: File[]) {
    const added = files.map((file) => ({ key: nextKey++, file, status: "queued" as UploadStatus }));
    items.value = [...added, ...items.value];
    void drain();
  }

  function retryFailed() {
    for (const item of items.value) if (item.status === "failed") Object.assign(item, { status: "queued", message: undefined });
    void drain();
  }

  function clearFinished() {
    items.value = items.value.filter((item) => item.status === "queued" || item.status === "uploading");
  }

  return { items, running, counts, add, retryFailed, clearFinished };
}
