import { describe, expect, it } from "vitest";

import type { JobPublic, JobState } from "../api/types";
import { isActive, jobActions, jobPercent, jobProgress, withJob } from "./jobs";

const ID = "0123456789abcdef0123456789abcdef";

function job(state: JobState, kind = "sync folder /srv/photos", extra: Partial<JobPublic> = {}): JobPublic {
  return {
    id: ID,
    kind,
    state,
    total: 10,
    done: 3,
    duplicates: 1,
    failed: 0,
    errors: [],
    created_at: "2024-05-01T10:00:00Z",
    finished_at: null,
    updated_at: "2024-05-01T10:00:05Z",
    ...extra,
  };
}

describe("jobActions", () => {
  it("offers Resume and Cancel for an interrupted sync, of a bucket or a folder", () => {
    for (const kind of ["sync s3://photos/2024/", "sync folder /srv/photos"]) {
      expect(jobActions(job("interrupted", kind))).toEqual({ resume: true, cancel: true, resumeCommand: null });
    }
  });

  it("sends an interrupted command-line run to the command line, and still offers Cancel", () => {
    expect(jobActions(job("interrupted", "index"))).toEqual({
      resume: false,
      cancel: true,
      resumeCommand: `imgsearch index --resume ${ID}`,
    });
  });

  it("sends an interrupted or failed re-index to `imgsearch reindex --resume`", () => {
    for (const state of ["interrupted", "failed"] as const) {
      expect(jobActions(job(state, "reindex")).resumeCommand).toBe(`imgsearch reindex --resume ${ID}`);
    }
    expect(jobActions(job("failed", "index")).resumeCommand).toBeNull();
  });

  it("offers only Cancel while a job is queued or running", () => {
    for (const state of ["queued", "running"] as const) {
      for (const kind of ["sync folder /x", "index"]) {
        expect(jobActions(job(state, kind))).toEqual({ resume: false, cancel: true, resumeCommand: null });
      }
    }
  });

  it("offers nothing for a finished job", () => {
    for (const state of ["done", "failed", "cancelled"] as const) {
      expect(jobActions(job(state))).toEqual({ resume: false, cancel: false, resumeCommand: null });
    }
  });
});

describe("isActive", () => {
  it("holds for queued and running only: the list stops polling otherwise", () => {
    const states: JobState[] = ["queued", "running", "done", "failed", "cancelled", "interrupted"];
    expect(states.filter((state) => isActive({ state }))).toEqual(["queued", "running"]);
  });
});

describe("jobProgress and jobPercent", () => {
  it("reads done out of total with duplicates and failures", () => {
    expect(jobProgress(job("running", "index", { failed: 2 }))).toBe("3 / 10 done · 1 duplicates · 2 failed");
    expect(jobPercent(job("running"))).toBe(30);
  });

  it("shows an unknown total while the source is listed", () => {
    expect(jobProgress(job("queued", "index", { total: null, done: 0 }))).toBe("0 / ? done · 1 duplicates · 0 failed");
    expect(jobPercent(job("queued", "index", { total: null, done: 0 }))).toBe(0);
  });

  it("reads a finished job without images as complete", () => {
    expect(jobPercent(job("done", "index", { total: 0, done: 0 }))).toBe(100);
  });
});

describe("withJob", () => {
  it("replaces the job in place and keeps the order", () => {
    const other = job("done", "index", { id: "f".repeat(32) });
    const list = [other, job("interrupted")];
    const resumed = job("running");
    expect(withJob(list, resumed)).toEqual([other, resumed]);
  });

  it("puts a job the list did not hold first (it is the newest)", () => {
    const other = job("done", "index", { id: "f".repeat(32) });
    expect(withJob([other], job("queued")).map((entry) => entry.id)).toEqual([ID, other.id]);
  });
});
