import { describe, expect, it } from "vitest";

import { ApiError, searchFormData, sessionGone } from "./client";

describe("sessionGone", () => {
  it("recognises a dropped or unknown query session, and nothing else", () => {
    expect(sessionGone(new ApiError(410, "query_expired", "expired"))).toBe(true);
    expect(sessionGone(new ApiError(404, "query_not_found", "unknown"))).toBe(true);
    expect(sessionGone(new ApiError(404, "not_found", "no such image"))).toBe(false);
    expect(sessionGone(new Error("query_expired"))).toBe(false);
  });
});

describe("searchFormData", () => {
  it("sends the file with lists comma-separated and boxes as JSON", () => {
    const form = searchFormData(new Blob(["jpeg"]), { k: 24, objects: [0, 2], boxes: [[1, 2, 30, 40]] });
    expect(form.get("file")).toBeInstanceOf(Blob);
    expect(form.get("k")).toBe("24");
    expect(form.get("objects")).toBe("0,2");
    expect(form.get("boxes")).toBe("[[1,2,30,40]]");
  });
});
