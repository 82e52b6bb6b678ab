// Vitest globalSetup for the worker suite: one alert webhook receiver per run on 127.0.0.1, its
// URL handed to Miniflare's bindings (ALERT_WEBHOOK_URLS) through provide/inject.
import type { TestProject } from "vitest/node";
import { startAlertReceiver } from "./server.ts";

/** Test-only signing secret, also bound as ALERT_WEBHOOK_SECRET (vitest.config.ts). */
export const ALERT_TEST_SECRET = "test-only-alert-webhook-secret-0123456789abcdef";

declare module "vitest" {
  export interface ProvidedContext {
    alertReceiverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const receiver = await startAlertReceiver(ALERT_TEST_SECRET);
  project.provide("alertReceiverUrl", receiver.url);
  return () => receiver.close();
}
