import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";

describe("GET /health", () => {
  it("answers liveness with secure headers and a request id", async () => {
    const res = await api("/health");
    expect(res.status).toBe(200);
    // Up or down, nothing else: no version, environment or clock for an anonymous caller.
    expect(await res.json()).toEqual({ status: "up" });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});
