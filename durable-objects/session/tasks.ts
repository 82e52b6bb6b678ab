import type { Backoff } from "../scheduler.ts";

/**
 * Alarm-driven work of a SessionDO (run by durable-objects/scheduler.ts). Each task has a due
 * time; one alarm fires at the earliest. A failed run backs off exponentially; the pipeline
 * gives up after MAX_PIPELINE_ATTEMPTS and the session becomes `failed`.
 */
export type TaskName = "pipeline" | "index" | "purge" | "retention" | "sweep" | "anchor" | "interim" | "scrub";

export const RETRY_BACKOFF: Backoff = { baseMs: 5_000, maxMs: 60 * 60_000 };
export const MAX_PIPELINE_ATTEMPTS = 8;
/** An upload not committed within this time is abandoned; its blob is deleted. */
export const UPLOAD_TIMEOUT_MS = 15 * 60_000;
