import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";

describe("GET /health", () => {
  it("answers liveness with secure headers and a request id", async () => {
    const res = await api("/health");
    expect(res.status).toBe(200);
    const body = await res.json<{ status: string; environment: string }>();
    expect(body.status).toBe("ok");
    expect(body.environment).toBe("test");
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});
