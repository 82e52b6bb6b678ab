import { z } from "@hono/zod-openapi";
import type { ConfigVersionView } from "../../durable-objects/admin/index.ts";
import { diffConfig, systemConfigSchema } from "../../shared/admin.ts";
import { ApiError } from "../../shared/errors.ts";
import { principalOf } from "../middleware/authenticate.ts";
import { guarded } from "../middleware/authorize.ts";
import { invalidateEmergencyCache } from "../middleware/emergency-gate.ts";
import { createApp, jsonBody, jsonResponse, routesTagged } from "../openapi.ts";
import { unwrap } from "../../shared/outcome.ts";
import { auditAdmin, callAdmin, iso } from "./context.ts";

const route = routesTagged("admin");
const reason = z.string().trim().min(3).max(500);

const ConfigVersionSchema = z
  .object({
    version: z.number().int(),
    config: systemConfigSchema,
    createdBy: z.string(),
    createdAt: z.string().nullable(),
    reason: z.string(),
    rollbackOf: z.number().int().nullable(),
  })
  .openapi("SystemConfigVersion");

const versionJson = (v: ConfigVersionView) => ({ ...v, createdAt: v.version === 0 ? null : iso(v.createdAt) });

const getConfig = route(
  "GET /config",
  "The current runtime configuration and its version (0 = the built-in defaults)",
  guarded("admin:read"),
  { 200: jsonResponse(ConfigVersionSchema, "Current configuration") },
);

const listVersions = route(
  "GET /config/versions",
  "Configuration history, newest first",
  guarded("admin:read"),
  { 200: jsonResponse(z.object({ items: z.array(ConfigVersionSchema) }), "Versions") },
  [400, 401, 403, 429, 500],
  { request: { query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict() } },
);

const ConfigDiffSchema = z
  .object({
    from: ConfigVersionSchema,
    to: ConfigVersionSchema,
    changes: z.array(z.object({ path: z.string(), before: z.unknown(), after: z.unknown() }).openapi("SystemConfigChange")),
  })
  .openapi("SystemConfigDiff");

const diffVersions = route(
  "GET /config/diff",
  "What changed between two configuration versions (`to` defaults to the current one; 0 = the defaults), setting by setting",
  guarded("admin:read"),
  { 200: jsonResponse(ConfigDiffSchema, "The changes from `from` to `to`") },
  [400, 401, 403, 404, 429, 500],
  { request: { query: z.object({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0).optional() }).strict() } },
);

const putConfig = route(
  "PUT /config",
  "Replace the configuration (zod-validated; `expectedVersion` must be current, else 409); audited with before/after",
  guarded("admin:manage"),
  { 200: jsonResponse(ConfigVersionSchema, "The new version") },
  [400, 401, 403, 409, 413, 415, 429, 500],
  {
    request: {
      body: jsonBody(
        z
          .object({ config: systemConfigSchema, expectedVersion: z.number().int().min(0), reason })
          .strict()
          .openapi("SystemConfigUpdate"),
      ),
    },
  },
);

const rollback = route(
  "POST /config/rollback",
  "Roll back: a new version with an earlier version's content (0 = defaults); audited",
  guarded("admin:manage"),
  { 200: jsonResponse(ConfigVersionSchema, "The new version") },
  [400, 401, 403, 404, 409, 413, 415, 429, 500],
  {
    request: {
      body: jsonBody(
        z
          .object({ version: z.number().int().min(0), expectedVersion: z.number().int().min(0), reason })
          .strict()
          .openapi("SystemConfigRollback"),
      ),
    },
  },
);

export const configApp = createApp()
  .openapi(getConfig, async (c) => c.json(versionJson(await callAdmin(c.env, "config", (stub) => stub.config())), 200))
  .openapi(listVersions, async (c) => {
    const { limit } = c.req.valid("query");
    return c.json({ items: (await callAdmin(c.env, "configVersions", (stub) => stub.configVersions(limit))).map(versionJson) }, 200);
  })
  .openapi(diffVersions, async (c) => {
    const query = c.req.valid("query");
    const [from, to] = await Promise.all([
      callAdmin(c.env, "configVersion", (stub) => stub.configVersion(query.from)),
      query.to === undefined
        ? callAdmin(c.env, "config", (stub) => stub.config())
        : callAdmin(c.env, "configVersion", (stub) => stub.configVersion(query.to!)),
    ]);
    if (!from) throw new ApiError("not-found", `No configuration version ${query.from}.`);
    if (!to) throw new ApiError("not-found", `No configuration version ${query.to}.`);
    return c.json({ from: versionJson(from), to: versionJson(to), changes: diffConfig(from.config, to.config) }, 200);
  })
  .openapi(putConfig, async (c) => {
    const input = c.req.valid("json");
    const actor = principalOf(c).userId;
    const { before, after } = unwrap(
      await callAdmin(c.env, "updateConfig", (stub) => stub.updateConfig(input.config, input.expectedVersion, actor, input.reason)),
    );
    invalidateEmergencyCache(); // the lockdown message lives in the configuration
    await auditAdmin(c, {
      action: "admin.config_update",
      outcome: "success",
      targetId: `config:v${after.version}`,
      details: { reason: input.reason },
      before: before.config,
      after: after.config,
    });
    return c.json(versionJson(after), 200);
  })
  .openapi(rollback, async (c) => {
    const input = c.req.valid("json");
    const actor = principalOf(c).userId;
    const { before, after } = unwrap(
      await callAdmin(c.env, "rollbackConfig", (stub) => stub.rollbackConfig(input.version, input.expectedVersion, actor, input.reason)),
    );
    invalidateEmergencyCache();
    await auditAdmin(c, {
      action: "admin.config_rollback",
      outcome: "success",
      targetId: `config:v${after.version}`,
      details: { reason: input.reason, to: input.version },
      before: before.config,
      after: after.config,
    });
    return c.json(versionJson(after), 200);
  });
