// What the jobs list shows of a job and which actions it offers; pure, so the rules are tested on their own.
import type { JobPublic } from "../api/types";

export interface JobActions {
  resume: boolean; // an interrupted sync: the server lists its source again and goes on
  cancel: boolean;
  resumeCommand: string | null; // an interrupted command-line run resumes from the command line only
}

/** A job the server is still working on (or about to): the list keeps polling while one is shown. */
export function isActive(job: Pick<JobPublic, "state">): boolean {
  return job.state === "queued" || job.state === "running";
}

/** Started by `POST /jobs/sync` ("sync s3://…", "sync folder …"), not by `imgsearch index`. */
export function isSync(job: Pick<JobPublic, "kind">): boolean {
  return job.kind.startsWith("sync ");
}

export function jobActions(job: Pick<JobPublic, "id" | "kind" | "state">): JobActions {
  const interrupted = job.state === "interrupted";
  const reindex = job.kind === "reindex"; // `imgsearch reindex`: a failed one goes on too (its failures retried)
  const goesOn = interrupted || (reindex && job.state === "failed");
  return {
    resume: interrupted && isSync(job),
    cancel: interrupted || isActive(job),
    resumeCommand: goesOn && !isSync(job) ? `imgsearch ${reindex ? "reindex" : "index"} --resume ${job.id}` : null,
  };
}

/** "3 / 10 done · 1 duplicates · 0 failed"; the total is "?" while the source is still being listed. */
export function jobProgress(job: Pick<JobPublic, "total" | "done" | "duplicates" | "failed">): string {
  return `${job.done} / ${job.total ?? "?"} done · ${job.duplicates} duplicates · ${job.failed} failed`;
}

/** Done out of total in percent (0 while the total is unknown, 100 for a finished job without one). */
export function jobPercent(job: Pick<JobPublic, "total" | "done" | "state">): number {
  if (job.total) return Math.min(100, Math.round((100 * job.done) / job.total));
  return job.state === "done" ? 100 : 0;
}

/** The list with one job replaced by the server's newer answer (an action's reply), order kept. */
export function withJob(jobs: JobPublic[], updated: JobPublic): JobPublic[] {
  return jobs.some((job) => job.id === updated.id)
    ? jobs.map((job) => (job.id === updated.id ? updated : job))
    : [updated, ...jobs];
}
