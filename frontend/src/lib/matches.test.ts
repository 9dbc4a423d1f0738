import { describe, expect, it } from "vitest";

import type { MatchPublic } from "../api/types";

import { rankedMatches } from "./matches";

function match(part: number, similarity: number): MatchPublic {
  return { bbox: [0, 0, 10, 10], label: "cat", similarity, part };
}

describe("rankedMatches", () => {
  it("marks each part's first match (the API ranks them best first) as its best", () => {
    const ranked = rankedMatches([match(0, 0.9), match(1, 0.8), match(0, 0.85), match(1, 0.7)]);
    expect(ranked.map((m) => [m.part, m.best])).toEqual([
      [0, true],
      [1, true],
      [0, false],
      [1, false],
    ]);
  });
});
