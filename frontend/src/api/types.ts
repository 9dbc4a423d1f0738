// The JSON the API speaks (api/schemas.py), by the same names.

/** [x1, y1, x2, y2] in the pixels of the image it belongs to. */
export type BBox = [number, number, number, number];

export interface ErrorDetail {
  code: string;
  message: string;
}

export interface ObjectPublic {
  bbox: BBox;
  label: string;
  score: number;
}

export interface ImagePublic {
  id: string;
  width: number;
  height: number;
  content_type: string;
  byte_size: number;
  source: string;
  created_at: string;
  tags: string[];
  objects: ObjectPublic[];
  thumbnail_url: string;
  content_url: string;
}

export interface ImagePage {
  images: ImagePublic[];
  next_cursor: string | null;
}

export interface IngestedImage {
  id: string;
  width: number;
  height: number;
  duplicate: boolean;
  objects: ObjectPublic[];
}

export interface IngestFailure {
  source: string;
  error: ErrorDetail;
}

export interface IngestResponse {
  images: IngestedImage[];
  failed: IngestFailure[];
}

export type ObjectKind = "object" | "image";

/** "auto": the named objects or boxes, else the query's main object; "image": the whole image. */
export type SearchTarget = "auto" | "image";

export interface SearchOptions {
  k?: number;
  target?: SearchTarget;
  object?: number; // a detected object's position in query.objects
  objects?: number[]; // several objects, all to be matched
  box?: BBox; // a drawn region, in query-image pixels
  boxes?: BBox[];
  labels?: string[];
  tags?: string[]; // only images holding every one
  kinds?: ObjectKind[];
  min_similarity?: number;
  expand?: boolean; // query expansion; the server decides when absent
  all_matches?: boolean; // every matched box, not only the best and those close to it
  cursor?: string;
}

export interface MatchPublic {
  bbox: BBox;
  label: string;
  similarity: number;
  part: number; // the query part it matched: its position in query.parts
}

export interface SearchResult {
  id: string;
  similarity: number;
  width: number;
  height: number;
  thumbnail_url: string;
  content_url: string;
  matches: MatchPublic[];
}

/** One part of what a search looked for. */
export interface UsedQuery {
  kind: "object" | "box" | "image";
  bbox: BBox;
  label: string;
  object: number | null; // its position in query.objects
  auto: boolean; // chosen by the server because the request named nothing
}

export interface QueryPublic {
  width: number;
  height: number;
  objects: ObjectPublic[];
  used: UsedQuery; // parts[0]
  parts: UsedQuery[]; // a result matches every one
}

export interface SearchResponse {
  query_id: string | null; // search this query image again without sending it; null for an indexed image
  query: QueryPublic;
  results: SearchResult[];
  next_cursor: string | null;
  took_ms: number;
}

/** "interrupted": the process running it stopped (a restart); it can be resumed or cancelled. */
export type JobState = "queued" | "running" | "done" | "failed" | "cancelled" | "interrupted";

export interface JobPublic {
  id: string;
  kind: string;
  state: JobState;
  total: number | null;
  done: number;
  duplicates: number;
  failed: number;
  errors: IngestFailure[];
  created_at: string;
  finished_at: string | null;
  updated_at: string; // last saved; a running job not saved for 30 s reads as interrupted
  optimized?: string | null; // what optimising the index after a large import did
}

export interface StatsPublic {
  images: number;
  objects: number;
  labels: Record<string, number>;
  index_size_bytes: number;
  model_id: string | null;
  dim: number | null;
  backend: string;
}
