// A small JSON client for the demo seed: every non-2xx answer becomes an error carrying the
// problem+json title and detail, so a failed seed step says what the server refused.
export class ApiFailure extends Error {
  readonly status: number;
  readonly problemType: string | null;

  constructor(status: number, problemType: string | null, message: string) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.problemType = problemType;
  }
}

export interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export class DemoHttp {
  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  async call<T>(path: string, options: CallOptions = {}): Promise<T> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const method = options.method ?? (options.body === undefined ? "GET" : "POST");
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    const json = text ? safeJson(text) : null;
    if (!res.ok) {
      const problem = (json ?? {}) as { type?: string; title?: string; detail?: string; errors?: { path?: string; message?: string }[] };
      const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).join("; ");
      const what = `${problem.detail ?? problem.title ?? text.slice(0, 200)}${fields ? ` (${fields})` : ""}`;
      throw new ApiFailure(res.status, problem.type ?? null, `${method} ${path}: ${res.status} ${what}`);
    }
    return json as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
