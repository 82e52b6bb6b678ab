/**
 * The alerts page's one door to the API (admin alerts: list by state, acknowledge, resolve).
 * Kept apart so new alert routes (rules, delivery log) are wired in here, not in the page.
 */
import { getJson, postJson, type Answer, type Api } from "./api.ts";

export type AlertList = Answer<Api["admin"]["alerts"]["$get"]>;
export type Alert = AlertList["items"][number];
export type AlertState = Alert["state"];

/** One page of alerts in `state`, most recent first; `before` (an alert's lastAt) pages back. */
export function listAlerts(state: AlertState, options: { before?: string; limit?: number } = {}): Promise<AlertList> {
  const query = new URLSearchParams({ state, limit: String(options.limit ?? 50) });
  if (options.before) query.set("before", options.before);
  return getJson<AlertList>(`/admin/alerts?${query}`);
}

export function acknowledgeAlert(id: string): Promise<Answer<Api["admin"]["alerts"][":id"]["acknowledge"]["$post"]>> {
  return postJson(`/admin/alerts/${id}/acknowledge`, undefined);
}

export function resolveAlert(id: string): Promise<Answer<Api["admin"]["alerts"][":id"]["resolve"]["$post"]>> {
  return postJson(`/admin/alerts/${id}/resolve`, undefined);
}
