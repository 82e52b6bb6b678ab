import { readFileSync } from "node:fs";
import { parse } from "smol-toml";

/** The parts of wrangler.toml the self-hosted config reproduces. */
export interface WranglerConfig {
  name: string;
  main: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, string>;
  durableObjects: { binding: string; className: string }[];
  r2Buckets: { binding: string; bucketName: string }[];
}

export function readWranglerConfig(path: string): WranglerConfig {
  const raw = parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const table = (value: unknown) => (value && typeof value === "object" ? (value as Record<string, unknown>) : {});
  const list = (value: unknown) => (Array.isArray(value) ? value.map(table) : []);
  const text = (value: unknown, what: string) => {
    if (typeof value !== "string" || !value) throw new Error(`wrangler.toml: ${what} must be a non-empty string`);
    return value;
  };
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(table(raw.vars))) vars[key] = String(value);
  return {
    name: text(raw.name, "name"),
    main: text(raw.main, "main"),
    compatibilityDate: text(raw.compatibility_date, "compatibility_date"),
    compatibilityFlags: Array.isArray(raw.compatibility_flags) ? raw.compatibility_flags.map(String) : [],
    vars,
    durableObjects: list(table(raw.durable_objects).bindings).map((b) => ({
      binding: text(b.name, "durable_objects.bindings.name"),
      className: text(b.class_name, "durable_objects.bindings.class_name"),
    })),
    r2Buckets: list(raw.r2_buckets).map((b) => ({
      binding: text(b.binding, "r2_buckets.binding"),
      bucketName: text(b.bucket_name, "r2_buckets.bucket_name"),
    })),
  };
}
