import { describe, expect, it } from "vitest";

import { filtersProblem, searchOptions, searchQuery, type Filters, type QuerySource } from "./searchRequest";
import { AUTO } from "./selection";

const FILE: QuerySource = { kind: "file", file: new Blob(["jpeg"]), name: "query.jpg", previewUrl: "blob:1" };
const NO_FILTERS: Filters = { labels: "", tags: "", minSimilarity: 0, kinds: "both" };

describe("searchQuery", () => {
  it("uploads a file until the server has opened a session for it, then names the session", () => {
    expect(searchQuery(FILE, null)).toEqual({ file: FILE.file });
    expect(searchQuery(FILE, "q_abc")).toEqual({ queryId: "q_abc" });
    expect(searchQuery({ kind: "url", url: "https://example.com/a.jpg" }, "q_abc")).toEqual({ queryId: "q_abc" });
  });

  it("keeps an indexed image's id until a region opened a session: its objects are then the session's", () => {
    expect(searchQuery({ kind: "image", imageId: "ab12" }, null)).toEqual({ imageId: "ab12" });
    expect(searchQuery({ kind: "image", imageId: "ab12" }, "q_abc")).toEqual({ queryId: "q_abc" });
  });
});

describe("searchOptions", () => {
  it("asks for a page of the server's choice with no filters", () => {
    expect(searchOptions(AUTO, NO_FILTERS, 24)).toEqual({ k: 24, kinds: ["object", "image"] });
  });

  it("carries the selection, the filters and the cursor", () => {
    const filters: Filters = { labels: " cat, ,dog ", tags: "paris , 2024,", minSimilarity: 0.4, kinds: "object" };
    expect(searchOptions({ kind: "parts", objects: [0, 1], boxes: [] }, filters, 24, "next")).toEqual({
      k: 24,
      objects: [0, 1],
      labels: ["cat", "dog"],
      tags: ["paris", "2024"],
      kinds: ["object"],
      min_similarity: 0.4,
      cursor: "next",
    });
  });
});

describe("filtersProblem", () => {
  it("names a tag the server would refuse before a search sends it", () => {
    expect(filtersProblem(NO_FILTERS)).toBeNull();
    expect(filtersProblem({ ...NO_FILTERS, tags: "paris, 2024" })).toBeNull();
    expect(filtersProblem({ ...NO_FILTERS, tags: "paris, #2024" })).toMatch(/"#2024"/);
  });
});
