import { describe, expect, it } from "vitest";

import { ApiError, browseParams, searchFormData, sessionGone } from "./client";

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

describe("browseParams", () => {
  it("asks for a page, and the next one with its cursor", () => {
    expect(browseParams(null, 24).toString()).toBe("limit=24");
    expect(browseParams("c1", 24).toString()).toBe("limit=24&cursor=c1");
  });

  it("repeats each tag as tag=, with the cursor of a later page too", () => {
    const params = browseParams("c1", 24, ["trip:paris 2024", "a/b"]);
    expect(params.getAll("tag")).toEqual(["trip:paris 2024", "a/b"]);
    expect(params.get("cursor")).toBe("c1");
    expect(params.toString()).toBe("limit=24&cursor=c1&tag=trip%3Aparis+2024&tag=a%2Fb");
  });
});

describe("searchFormData with tags", () => {
  it("sends tags comma-separated, as labels (a tag cannot hold a comma)", () => {
    const form = searchFormData(new Blob(["jpeg"]), { tags: ["paris", "New York"], labels: ["cat"] });
    expect(form.get("tags")).toBe("paris,New York");
    expect(form.get("labels")).toBe("cat");
  });
});
