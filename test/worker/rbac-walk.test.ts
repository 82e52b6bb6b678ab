import { describe, expect, it } from "vitest";
import { can, isPrivileged, PERMISSIONS, PUBLIC, ROLES, ROLE_PERMISSIONS, type Permission, type Role } from "../../shared/rbac.ts";
import { api, tokenFor } from "./helpers.ts";

interface Operation {
  "x-permission"?: string;
  responses?: Record<string, unknown>;
}
type Document = { paths: Record<string, Record<string, Operation>> };

const METHODS = ["get", "post", "put", "patch", "delete"];
const CALLERS = ["anonymous", ...ROLES] as const;

async function openapi(): Promise<Document> {
  const res = await api("/api/v1/openapi.json");
  expect(res.status).toBe(200);
  return res.json();
}

function operations(doc: Document) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
}

/** Path parameters become the caller's own id (so ownership passes) or a fresh UUID. */
function concretePath(path: string, userId: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) =>
    name === "id" && path.startsWith("/api/v1/users/") ? userId : crypto.randomUUID(),
  );
}

async function call(method: string, path: string, caller: (typeof CALLERS)[number], userId: string): Promise<number> {
  const headers: Record<string, string> = {};
  if (caller !== "anonymous") headers.Authorization = `Bearer ${await tokenFor(userId, caller)}`;
  const hasBody = ["post", "put", "patch"].includes(method);
  if (hasBody) headers["Content-Type"] = "application/json";
  const res = await api(concretePath(path, userId), { method: method.toUpperCase(), headers, body: hasBody ? "{}" : undefined });
  await res.body?.cancel();
  return res.status;
}

describe("RBAC: every route in the OpenAPI document, for every role and anonymous", () => {
  it("the permission table covers every permission and ranks roles monotonically", () => {
    for (const permission of PERMISSIONS) expect(ROLES.some((role) => can(role, permission))).toBe(true);
    for (let i = 1; i < ROLES.length; i++) {
      for (const permission of ROLE_PERMISSIONS[ROLES[i - 1]!]) expect(can(ROLES[i]!, permission)).toBe(true);
    }
  });

  it("auth, users and system routes each declare a permission from shared/rbac.ts", async () => {
    const doc = await openapi();
    const annotated = ["/api/v1/auth", "/api/v1/users", "/api/v1/system"];
    const ours = operations(doc).filter(({ path }) => annotated.some((prefix) => path.startsWith(prefix)));
    expect(ours.length).toBeGreaterThanOrEqual(19);
    for (const { path, method, op } of ours) {
      const permission = op["x-permission"];
      expect(permission, `${method.toUpperCase()} ${path}`).toBeDefined();
      expect([PUBLIC, ...PERMISSIONS]).toContain(permission);
    }
  });

  // Hundreds of calls, one at a time: this checks the permission table, not concurrency (one
  // client's parallel requests are test/worker/gateway.test.ts's). ~60 s on a loaded machine.
  it("operations endpoints need ADMIN: services, services/check, one service and metrics", async () => {
    const doc = await openapi();
    for (const [path, method] of [
      ["/api/v1/system/services", "get"],
      ["/api/v1/system/services/check", "post"],
      ["/api/v1/system/services/{name}", "get"],
      ["/api/v1/system/metrics", "get"],
    ] as const) {
      expect(doc.paths[path]?.[method]?.["x-permission"], `${method} ${path}`).toBe("admin:read");
    }
  });

  // Bodies are "{}" (invalid for most routes): a caller refused by role must get 401/403 before any
  // validation answers 400, so the exact statuses below also show validation runs after authorization.
  it("answers 401 / 403 / allowed exactly as the table says", { timeout: 300_000 }, async () => {
    const doc = await openapi();
    const failures: string[] = [];
    const checks = operations(doc).flatMap(({ path, method, op }) => CALLERS.map((caller) => ({ path, method, op, caller })));
    const check = async ({ path, method, op, caller }: (typeof checks)[number]) => {
      const permission = op["x-permission"];
      const userId = crypto.randomUUID();
      let status: number;
      try {
        status = await call(method, path, caller, userId);
      } catch (error) {
        failures.push(`${method.toUpperCase()} ${path} as ${caller} threw: ${String(error)}`);
        return;
      }
      const where = `${method.toUpperCase()} ${path} as ${caller}: ${status}`;
      if (status >= 500 && status !== 503) failures.push(`${where} (server error)`);
      if (permission === undefined) {
        // Not annotated (another function's route): its documented 401 is the contract for anonymous callers.
        if (caller === "anonymous" && (status === 401) !== Object.hasOwn(op.responses ?? {}, "401"))
          failures.push(`${where} (documented 401: ${Object.hasOwn(op.responses ?? {}, "401")})`);
        return;
      }
      // A privileged write is judged by the caller's current role and login session; the walk's
      // tokens have none behind them, so a role holding the permission still gets 401.
      const live = permission !== PUBLIC && isPrivileged(permission as Permission) && method !== "get";
      const expected =
        permission === PUBLIC
          ? "allowed"
          : caller === "anonymous"
            ? 401
            : can(caller as Role, permission as Permission)
              ? live
                ? 401
                : "allowed"
              : 403;
      const ok = expected === "allowed" ? status !== 401 && status !== 403 : status === expected;
      if (!ok) failures.push(`${where}, expected ${expected}`);
    };
    for (const item of checks) await check(item);
    failures.sort();
    expect(failures).toEqual([]);
  });
});
