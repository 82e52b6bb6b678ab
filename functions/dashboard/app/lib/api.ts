/**
 * The dashboard's one way to call /api/v1: bearer token from the login session, one silent
 * refresh on a 401, and every error turned into an ApiProblem with a sentence a person can read
 * (RFC 9457 problem+json: title, detail, field errors, request id).
 */
import type { InferRequestType, InferResponseType } from "hono/client";
import type { LucidClient } from "../../../client.ts";
import { auth } from "./session.ts";

/**
 * The Worker's /api/v1 routes as the typed client (`hc<AppType>`, functions/client.ts) sees
 * them, e.g. `Api["sessions"][":id"]["$get"]`. Types only: the bundle keeps the small fetch
 * wrapper below, and each call names its route's answer, so a change to a route's response
 * schema fails the dashboard's typecheck.
 */
export type Api = LucidClient["api"]["v1"];
/** The JSON a route answers with on success. */
export type Answer<Route> = InferResponseType<Route, 200 | 201 | 202>;
/** The JSON body a route takes. */
export type Body<Route> = InferRequestType<Route> extends { json: infer J } ? J : never;

export interface FieldError {
  location?: string;
  path?: string;
  message: string;
}

export class ApiProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly requestId: string | undefined;
  readonly errors: FieldError[];
  readonly extensions: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    const title = typeof body.title === "string" ? body.title : `Request failed (${status})`;
    const detail = typeof body.detail === "string" ? body.detail : undefined;
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiProblem";
    this.status = status;
    this.type = typeof body.type === "string" ? body.type : "about:blank";
    this.title = title;
    this.detail = detail;
    this.requestId = typeof body.requestId === "string" ? body.requestId : undefined;
    this.errors = Array.isArray(body.errors)
      ? body.errors.filter((e): e is FieldError => !!e && typeof (e as FieldError).message === "string")
      : [];
    this.extensions = body;
  }

  /** The slug of the stable problem type (`/problems/<slug>`). */
  get slug(): string {
    return this.type.split("/").pop() ?? this.type;
  }
}

async function problemOf(res: Response): Promise<ApiProblem> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
  } catch {
    body = { title: `The server answered ${res.status} ${res.statusText}`.trim() };
  }
  return new ApiProblem(res.status, body);
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Skip the bearer token (login calls). */
  anonymous?: boolean;
  signal?: AbortSignal;
}

async function send(path: string, options: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json, application/problem+json", ...options.headers };
  const token = options.anonymous ? null : auth.accessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Uint8Array || options.body === undefined) body = options.body as BodyInit | undefined;
  else {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  return fetch(`/api/v1${path}`, { method: options.method ?? "GET", headers, body, signal: options.signal });
}

/** Calls the API; answers the raw Response when it is 2xx, throws ApiProblem otherwise. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  let res = await send(path, options);
  if (res.status === 401 && !options.anonymous && (await auth.refresh())) res = await send(path, options);
  if (!res.ok) {
    const problem = await problemOf(res);
    if (problem.status === 401 && !options.anonymous) auth.expired(problem);
    throw problem;
  }
  return res;
}

export async function getJson<T>(path: string, options: CallOptions = {}): Promise<T> {
  return (await (await call(path, options)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
  const res = await call(path, { ...options, method: options.method ?? "POST", body });
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** A readable sentence for anything thrown by a call (network failures included). */
export function describeError(error: unknown): string {
  if (error instanceof ApiProblem) return error.message;
  if (error instanceof DOMException && error.name === "AbortError") return "Cancelled.";
  if (error instanceof TypeError) return `The server could not be reached (${error.message}).`;
  return error instanceof Error ? error.message : String(error);
}

export { problemOf };
