// What the user chose to search by (a detected object, several, drawn regions, the whole image, or nothing:
// the server's pick), how that becomes request options, and how to read back what the server searched.
import type { BBox, QueryPublic, SearchOptions, UsedQuery } from "../api/types";

/** The server's limit on the objects and boxes one search combines (imgsearch/index/base.py MAX_QUERY_PARTS). */
export const MAX_PARTS = 4;

export interface Parts {
  objects: number[]; // positions in query.objects
  boxes: BBox[]; // drawn regions, query-image pixels
}

export type Selection = { kind: "auto" } | { kind: "image" } | ({ kind: "parts" } & Parts);

export const AUTO: Selection = { kind: "auto" };
export const WHOLE_IMAGE: Selection = { kind: "image" };

/** The request options that ask for this selection: one object or box as `object`/`box`, several as lists. */
export function selectionOptions(selection: Selection): Pick<SearchOptions, "target" | "object" | "objects" | "box" | "boxes"> {
  if (selection.kind === "auto") return {};
  if (selection.kind === "image") return { target: "image" };
  const { objects, boxes } = selection;
  return {
    ...(objects.length === 1 ? { object: objects[0] } : objects.length > 1 ? { objects: [...objects] } : {}),
    ...(boxes.length === 1 ? { box: boxes[0] } : boxes.length > 1 ? { boxes: [...boxes] } : {}),
  };
}

/** The objects and boxes a search used (none when it used the whole image). */
export function partsOf(query: QueryPublic): Parts {
  return {
    objects: query.parts.flatMap((part) => (part.kind === "object" && part.object !== null ? [part.object] : [])),
    boxes: query.parts.flatMap((part) => (part.kind === "box" ? [part.bbox] : [])),
  };
}

function partCount({ objects, boxes }: Parts): number {
  return objects.length + boxes.length;
}

/** Where adding to the selection starts: what the user chose, or what the server chose for them. */
function baseParts(selection: Selection, query: QueryPublic): Parts {
  return selection.kind === "parts" ? selection : partsOf(query);
}

/**
 * The selection after a click on object `index`: alone, it searches by that object; `additive` (shift-click, or
 * "select several") adds it to the objects and boxes already used, or takes it out again. The same selection
 * comes back where nothing can change: taking out the last part, or adding one past MAX_PARTS.
 */
export function withObject(selection: Selection, query: QueryPublic, index: number, additive: boolean): Selection {
  if (!additive) return { kind: "parts", objects: [index], boxes: [] };
  const base = baseParts(selection, query);
  if (base.objects.includes(index)) {
    const objects = base.objects.filter((object) => object !== index);
    return partCount({ objects, boxes: base.boxes }) ? { kind: "parts", objects, boxes: base.boxes } : selection;
  }
  if (partCount(base) >= MAX_PARTS) return selection;
  return { kind: "parts", objects: [...base.objects, index], boxes: base.boxes };
}

/** The selection after drawing a region: alone, or (`additive`) as one more part to match. */
export function withBox(selection: Selection, query: QueryPublic, box: BBox, additive: boolean): Selection {
  if (!additive) return { kind: "parts", objects: [], boxes: [box] };
  const base = baseParts(selection, query);
  if (partCount(base) >= MAX_PARTS) return selection;
  return { kind: "parts", objects: base.objects, boxes: [...base.boxes, box] };
}

/** Whether another part may join what the search used. */
export function canAddPart(query: QueryPublic): boolean {
  return partCount(partsOf(query)) < MAX_PARTS;
}

/** How the search actually ran, read from the API's `query.parts`. */
export type Used =
  | { kind: "object"; index: number; label: string; auto: boolean }
  | { kind: "region"; bbox: BBox }
  | { kind: "whole"; auto: boolean }
  | { kind: "several"; parts: UsedQuery[] };

export function describeUsed(query: QueryPublic): Used {
  const parts = query.parts.length ? query.parts : [query.used];
  const only = parts.length === 1 ? parts[0] : undefined;
  if (!only) return { kind: "several", parts };
  if (only.kind === "object" && only.object !== null) {
    return { kind: "object", index: only.object, label: only.label, auto: only.auto };
  }
  if (only.kind === "box") return { kind: "region", bbox: only.bbox };
  return { kind: "whole", auto: only.auto };
}

/** "80×60 at (10, 20)": a region's size and corner in image pixels. */
export function sizeText(bbox: BBox): string {
  return `${Math.round(bbox[2] - bbox[0])}×${Math.round(bbox[3] - bbox[1])} at (${Math.round(bbox[0])}, ${Math.round(bbox[1])})`;
}

/** A query part in words: "object 2: cat", "the region 80×60 at (10, 20)", "the whole image". */
export function partText(part: UsedQuery): string {
  if (part.kind === "object" && part.object !== null) return `object ${part.object + 1}: ${part.label}`;
  if (part.kind === "box") return `the region ${sizeText(part.bbox)}`;
  return "the whole image";
}
