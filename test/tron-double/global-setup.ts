// Vitest globalSetup for the worker suite: one TRON double per run on 127.0.0.1, its URL
// handed to Miniflare's bindings (TRON_RPC_URL) through provide/inject.
import type { TestProject } from "vitest/node";
import { startTronDouble } from "./server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    tronDoubleUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const double = await startTronDouble();
  project.provide("tronDoubleUrl", double.url);
  return () => double.close();
}
