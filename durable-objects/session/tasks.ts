/**
 * Alarm-driven work of a SessionDO. Each task has a due time; one alarm fires at the earliest.
 * A failed run backs off exponentially; the pipeline gives up after MAX_PIPELINE_ATTEMPTS and
 * the session becomes `failed`.
 */
export type TaskName = "pipeline" | "index" | "purge" | "retention" | "sweep" | "anchor" | "interim" | "scrub";

export const RETRY_BASE_MS = 5_000;
export const RETRY_MAX_MS = 60 * 60_000;
export const MAX_PIPELINE_ATTEMPTS = 8;
/** An upload not committed within this time is abandoned; its blob is deleted. */
export const UPLOAD_TIMEOUT_MS = 15 * 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.max(attempts - 1, 0), RETRY_MAX_MS);
}
