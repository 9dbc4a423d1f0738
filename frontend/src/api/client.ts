import { apiKey, keyPanelOpen } from "./auth";
import type {
  ImagePage,
  ImagePublic,
  IngestResponse,
  JobPublic,
  SearchOptions,
  SearchResponse,
  StatsPublic,
} from "./types";

const BASE = "/api/v1";

/** An error the API answered with (`{"error": {"code", "message"}}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body?.error?.message) ({ code, message } = body.error);
  } catch {
    /* not JSON (a proxy's error page): keep the status text */
  }
  if (response.status === 401) {
    keyPanelOpen.value = true;
    message = apiKey.value
      ? `The API key was refused (${message}). Check it under "API key".`
      : `This server needs an API key for changes (${message}). Enter it under "API key".`;
  } else if (response.status === 503) {
    const retry = response.headers.get("Retry-After");
    // A store that is down names itself in the message; a full model queue is the server being busy.
    const why = code === "backend_unavailable" ? "" : "the server is busy: ";
    if (retry) message = `${message} (${why}try again in ${retry} s)`;
  }
  return new ApiError(response.status, code, message);
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (apiKey.value) headers.set("X-API-Key", apiKey.value);
  let response: Response;
  try {
    response = await fetch(BASE + path, { ...init, headers });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Could not reach the server. Is it running?");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function json(body: unknown): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

/** Search options as multipart form fields: lists comma-separated, boxes as JSON. */
export function searchFormData(file: Blob, options: SearchOptions): FormData {
  const form = new FormData();
  form.append("file", file);
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    if (name === "box" || name === "boxes") form.append(name, JSON.stringify(value));
    else form.append(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return form;
}

/** The query of one gallery page: the tags repeat as `tag=`, and go with every page's cursor. */
export function browseParams(cursor: string | null, limit: number, tags: string[] = []): URLSearchParams {
  const params = new URLSearchParams({ limit: String(limit) });
  if (cursor) params.set("cursor", cursor);
  for (const tag of tags) params.append("tag", tag);
  return params;
}

/** What a search sends as its image: the file itself, a URL, an indexed image, or an earlier search's session. */
export type SearchQuery = { file: Blob } | { url: string } | { imageId: string } | { queryId: string };

/** The server no longer holds (or never held) the query session: search with the image itself again. */
export function sessionGone(error: unknown): boolean {
  return error instanceof ApiError && (error.code === "query_expired" || error.code === "query_not_found");
}

function jsonSource(query: Exclude<SearchQuery, { file: Blob }>): Record<string, string> {
  if ("url" in query) return { url: query.url };
  if ("imageId" in query) return { image_id: query.imageId };
  return { query_id: query.queryId };
}

export const api = {
  search(query: SearchQuery, options: SearchOptions, signal?: AbortSignal): Promise<SearchResponse> {
    if ("file" in query) {
      return request("/search", { method: "POST", body: searchFormData(query.file, options), signal });
    }
    return request("/search", { ...json({ ...jsonSource(query), ...options }), signal });
  },

  /** A page of the gallery: only images holding every one of `tags`, when given. */
  browse(cursor: string | null, tags: string[] = [], limit = 24): Promise<ImagePage> {
    return request(`/images?${browseParams(cursor, limit, tags)}`);
  },

  image(id: string, signal?: AbortSignal): Promise<ImagePublic> {
    return request(`/images/${encodeURIComponent(id)}`, { signal });
  },

  /** Replace the image's tags (an empty list clears them); the updated record. */
  setTags(id: string, tags: string[]): Promise<ImagePublic> {
    return request(`/images/${encodeURIComponent(id)}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tags }),
    });
  },

  ingestFiles(files: File[]): Promise<IngestResponse> {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    return request("/images", { method: "POST", body: form });
  },

  deleteImage(id: string): Promise<void> {
    return request(`/images/${encodeURIComponent(id)}`, { method: "DELETE" });
  },

  startSync(body: { bucket?: string; folder?: string; prefix?: string }): Promise<JobPublic> {
    return request("/jobs/sync", json(body));
  },

  job(id: string): Promise<JobPublic> {
    return request(`/jobs/${encodeURIComponent(id)}`);
  },

  /** The newest jobs first (at most 50). */
  jobs(): Promise<JobPublic[]> {
    return request("/jobs");
  },

  /** Go on with an interrupted sync job. */
  resumeJob(id: string): Promise<JobPublic> {
    return request(`/jobs/${encodeURIComponent(id)}/resume`, { method: "POST" });
  },

  /** Stop a queued or running job after the batch in flight; an interrupted one is marked cancelled. */
  cancelJob(id: string): Promise<JobPublic> {
    return request(`/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  },

  stats(): Promise<StatsPublic> {
    return request("/stats");
  },
};

/** The text to show for any error a call threw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
