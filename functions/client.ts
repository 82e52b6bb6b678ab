import { hc } from "hono/client";
import type { AppType } from "./app.ts";

/**
 * Typed client for the Electron GUI and the dashboard: request and response types flow
 * from the route definitions. `createLucidClient("https://pi.local:8443").api.v1.system.services.$get()`.
 */
export function createLucidClient(baseUrl: string, options?: Parameters<typeof hc>[1]) {
  return hc<AppType>(baseUrl, options);
}

export type LucidClient = ReturnType<typeof createLucidClient>;
export type { AppType };
