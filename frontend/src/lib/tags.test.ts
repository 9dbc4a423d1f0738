import { describe, expect, it } from "vitest";

import { MAX_TAGS, splitTags, tagProblem, tagsProblem, withTag, withoutTag } from "./tags";

describe("tagProblem", () => {
  it("takes what the server's pattern takes: letters of any script, digits, spaces and _ . : / -", () => {
    for (const tag of ["paris", "2024", "trip:paris 2024", "a_b.c/d-e", "日本", "café", "cafe\u0301", "x".repeat(64)]) {
      expect(tagProblem(tag), tag).toBeNull();
    }
  });

  it("names what the server would refuse", () => {
    expect(tagProblem("")).toMatch(/empty/);
    expect(tagProblem("x".repeat(65))).toMatch(/longer than 64/);
    for (const tag of ["a+b", "a,b", "hash#tag", "line\nbreak", "😀", "x²"]) {
      expect(tagProblem(tag), tag).toMatch(/character/);
    }
  });

  it("counts characters as the server does, not UTF-16 units", () => {
    expect(tagProblem("日".repeat(64))).toBeNull();
    expect(tagProblem("𝒜".repeat(32))).toBeNull(); // 64 UTF-16 units, 32 characters
    expect(tagProblem("𝒜".repeat(65))).toMatch(/longer than 64/);
  });
});

describe("tagsProblem", () => {
  it("reports the first bad tag, and more tags than an image may hold", () => {
    expect(tagsProblem(["ok", "also ok"])).toBeNull();
    expect(tagsProblem(["ok", "no!", "nor?"])).toMatch(/"no!"/);
    expect(tagsProblem(Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`))).toBeNull();
    expect(tagsProblem(Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`))).toMatch(/At most 32/);
  });
});

describe("splitTags", () => {
  it("splits on commas, trims, drops empty parts and repeats, keeps inner spaces and case", () => {
    expect(splitTags(" paris, 2024 ,, paris,New York ,new york")).toEqual(["paris", "2024", "New York", "new york"]);
    expect(splitTags("  ")).toEqual([]);
  });
});

describe("withTag / withoutTag", () => {
  it("adds at the end once and removes exactly the tag named", () => {
    const tags = ["a", "b"];
    expect(withTag(tags, "c")).toEqual(["a", "b", "c"]);
    expect(withTag(tags, "a")).toBe(tags);
    expect(withoutTag(tags, "a")).toEqual(["b"]);
    expect(withoutTag(tags, "A")).toEqual(["a", "b"]);
    expect(withoutTag(["a"], "a")).toEqual([]);
  });
});
