import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Hook, RouteConfig } from "@hono/zod-openapi";
import { ApiError } from "../shared/errors.ts";
import type { AppEnv } from "./types.ts";

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: "/problems/validation-failed" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z
      .array(z.object({ location: z.string(), path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "For validation-failed: one entry per offending field." }),
  })
  .passthrough()
  .openapi("Problem", { description: "RFC 9457 problem details" });

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request (problem+json)",
  401: "Missing or invalid credentials",
  403: "Role not allowed",
  404: "Not found",
  409: "Conflict with current state",
  413: "Body too large",
  415: "Unsupported content type",
  422: "Well-formed, but names something that cannot be used (an unknown node, a reused Idempotency-Key)",
  429: "Rate limited; see Retry-After",
  500: "Server error",
  503: "Dependency unavailable",
};

/** OpenAPI response entries for the given problem statuses. */
export function problemResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? "Problem",
        content: { "application/problem+json": { schema: ProblemSchema } },
      },
    ]),
  ) as Record<S, { description: string; content: { "application/problem+json": { schema: typeof ProblemSchema } } }>;
}

const LOCATIONS: Record<string, string> = { param: "path", json: "body", form: "body", query: "query", header: "header" };

/** Every zod failure at a boundary becomes one 400 problem listing each field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const location = LOCATIONS[result.target] ?? result.target;
  throw new ApiError("validation-failed", `The request ${location} is invalid.`, {
    errors: result.error.issues.map((issue) => ({
      location,
      path: issue.path.join("."),
      message: issue.message,
    })),
  });
};

/** An OpenAPI response entry with a JSON body. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** An OpenAPI request body entry: required JSON validated by `schema`. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

type Verb = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
/** A route's method and path as HTTP writes them: "GET /config/versions". */
type Endpoint = `${Verb} /${string}`;
type MethodOf<T extends Endpoint> = T extends `${infer V extends Verb} ${string}` ? Lowercase<V> : never;
type PathOf<T extends Endpoint> = T extends `${Verb} ${infer P}` ? P : never;
/** guarded(permission) (functions/middleware/authorize.ts) or a variant: the route's middleware and `x-permission`. */
type Guard = { middleware?: RouteConfig["middleware"]; "x-permission"?: string };
/** What some routes add: prose beyond the summary, and what they read (params, query, headers, body). */
type RouteDetails = { description?: string; request?: RouteConfig["request"] };

/** What any guarded route may answer whatever it does: no or a bad token, no permission, rate limited, failed. */
const GUARDED_PROBLEMS = [401, 403, 429, 500] as const;

/**
 * The route shorthand for one tag: `const route = routesTagged("admin")`, then per route
 * `route("GET /path", summary, guarded(permission), { 200: jsonResponse(Schema, "…") }, [400, 401, 403, …], details?)`:
 * createRoute() saying only what differs, with its own answers and the problem+json statuses it may give
 * (by default GUARDED_PROBLEMS: a route with no input).
 * Every operation in the document lists its keys in one order (tags, summary, description, x-permission).
 */
export function routesTagged(...tags: string[]) {
  return function route<
    const T extends Endpoint,
    const G extends Guard,
    const A extends RouteConfig["responses"],
    const E extends number = (typeof GUARDED_PROBLEMS)[number],
    const D extends RouteDetails = {},
  >(endpoint: T, summary: string, guard: G, answers: A, problems: E[] = [...GUARDED_PROBLEMS] as E[], details: D = {} as D) {
    const space = endpoint.indexOf(" ");
    const method = endpoint.slice(0, space).toLowerCase() as MethodOf<T>;
    const path = endpoint.slice(space + 1) as PathOf<T>;
    const responses = { ...answers, ...problemResponses(...problems) };
    return createRoute({ method, path, tags, summary, description: details.description, ...guard, ...details, responses });
  };
}

/** An OpenAPIHono sub-app with Lucid's validation hook. */
export function createApp() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
