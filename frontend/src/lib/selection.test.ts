import { describe, expect, it } from "vitest";

import type { BBox, QueryPublic, UsedQuery } from "../api/types";

import { AUTO, MAX_PARTS, WHOLE_IMAGE, describeUsed, partsOf, selectionOptions, withBox, withObject } from "./selection";

const OBJECTS: BBox[] = [
  [10, 10, 60, 60],
  [100, 20, 160, 80],
  [200, 100, 260, 160],
  [20, 150, 80, 210],
  [150, 150, 190, 190],
];

function objectPart(index: number, auto = false): UsedQuery {
  return { kind: "object", bbox: OBJECTS[index]!, label: "cat", object: index, auto };
}

function queryUsing(parts: UsedQuery[]): QueryPublic {
  return {
    width: 320,
    height: 240,
    objects: OBJECTS.map((bbox) => ({ bbox, label: "cat", score: 0.9 })),
    used: parts[0]!,
    parts,
  };
}

const WHOLE: UsedQuery = { kind: "image", bbox: [0, 0, 320, 240], label: "image", object: null, auto: false };
const REGION: BBox = [30, 40, 130, 140];

describe("selectionOptions", () => {
  it("names nothing for the server's own choice, and target image for the whole image", () => {
    expect(selectionOptions(AUTO)).toEqual({});
    expect(selectionOptions(WHOLE_IMAGE)).toEqual({ target: "image" });
  });

  it("sends one object or box as object/box and several as lists", () => {
    expect(selectionOptions({ kind: "parts", objects: [2], boxes: [] })).toEqual({ object: 2 });
    expect(selectionOptions({ kind: "parts", objects: [0, 2], boxes: [] })).toEqual({ objects: [0, 2] });
    expect(selectionOptions({ kind: "parts", objects: [], boxes: [REGION] })).toEqual({ box: REGION });
    expect(selectionOptions({ kind: "parts", objects: [1], boxes: [REGION, REGION] })).toEqual({
      object: 1,
      boxes: [REGION, REGION],
    });
  });
});

describe("withObject", () => {
  const auto = queryUsing([objectPart(0, true)]);

  it("searches by the clicked object alone on a plain click", () => {
    expect(withObject(AUTO, auto, 2, false)).toEqual({ kind: "parts", objects: [2], boxes: [] });
  });

  it("adds to the object the server chose on a shift-click", () => {
    expect(withObject(AUTO, auto, 2, true)).toEqual({ kind: "parts", objects: [0, 2], boxes: [] });
  });

  it("builds on the selection already asked for, even before its answer came", () => {
    const asked = { kind: "parts" as const, objects: [0, 2], boxes: [] };
    expect(withObject(asked, auto, 3, true)).toEqual({ kind: "parts", objects: [0, 2, 3], boxes: [] });
  });

  it("takes a selected object out again, but never the last part", () => {
    const two = { kind: "parts" as const, objects: [0, 2], boxes: [] };
    expect(withObject(two, auto, 0, true)).toEqual({ kind: "parts", objects: [2], boxes: [] });
    const one = { kind: "parts" as const, objects: [2], boxes: [] };
    expect(withObject(one, auto, 2, true)).toBe(one);
  });

  it("starts afresh from the whole image", () => {
    const whole = queryUsing([WHOLE]);
    expect(withObject(WHOLE_IMAGE, whole, 1, true)).toEqual({ kind: "parts", objects: [1], boxes: [] });
  });

  it(`adds no part past the server's ${MAX_PARTS}`, () => {
    const full = { kind: "parts" as const, objects: [0, 1, 2], boxes: [REGION] };
    expect(withObject(full, auto, 4, true)).toBe(full);
  });
});

describe("withBox", () => {
  const auto = queryUsing([objectPart(0, true)]);

  it("searches by a drawn region alone, or with what was used", () => {
    expect(withBox(AUTO, auto, REGION, false)).toEqual({ kind: "parts", objects: [], boxes: [REGION] });
    expect(withBox(AUTO, auto, REGION, true)).toEqual({ kind: "parts", objects: [0], boxes: [REGION] });
  });
});

describe("partsOf and describeUsed", () => {
  it("reads the server's automatic choice of the main object", () => {
    const query = queryUsing([objectPart(0, true)]);
    expect(partsOf(query)).toEqual({ objects: [0], boxes: [] });
    expect(describeUsed(query)).toEqual({ kind: "object", index: 0, label: "cat", auto: true });
  });

  it("tells a region, the whole image and an AND of parts apart", () => {
    const region: UsedQuery = { kind: "box", bbox: REGION, label: "region", object: null, auto: false };
    expect(describeUsed(queryUsing([region]))).toEqual({ kind: "region", bbox: REGION });
    expect(describeUsed(queryUsing([WHOLE]))).toEqual({ kind: "whole", auto: false });
    const several = queryUsing([objectPart(1), objectPart(3), region]);
    expect(describeUsed(several)).toEqual({ kind: "several", parts: several.parts });
    expect(partsOf(several)).toEqual({ objects: [1, 3], boxes: [REGION] });
  });
});
