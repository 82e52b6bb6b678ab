// The web dashboard is served by the Worker from the ASSETS binding (wrangler [assets] here),
// with an SPA fallback for app routes, while everything the API owns keeps its problem+json 404s.
import { describe, expect, it } from "vitest";
import { api, problemOf, tokenFor } from "./helpers.ts";

describe("dashboard assets", () => {
  it("serves the page at / with a strict CSP and no caching of the page itself", async () => {
    const res = await api("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(res.headers.get("Cache-Control")).toBe("no-cache");
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    const html = await res.text();
    expect(html).toContain('<div id="root">');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeTruthy();

    const js = await api(script!);
    expect(js.status).toBe(200);
    expect(js.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("Cache-Control")).toContain("immutable");
    expect((await js.text()).length).toBeGreaterThan(1000);
  });

  it("answers app routes (deep links, the magic-link landing) with the page", async () => {
    for (const path of ["/sessions/0f8b6f3e-2c1d-4b8a-9e2f-6a7b8c9d0e1f", "/login/magic", "/chain"]) {
      const res = await api(path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
  });

  it("HEAD has the headers and no body", async () => {
    const res = await api("/", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe("");
  });

  it("a missing file is a 404 problem, not the page", async () => {
    const res = await api("/assets/missing-0000.js");
    expect(res.status).toBe(404);
    expect((await problemOf(res)).type).toBe("/problems/not-found");
  });

  it("API paths never fall through to the dashboard", async () => {
    for (const path of ["/api/v1/nothing-here", "/problems/nothing-here", "/api/v9/sessions"]) {
      const res = await api(path);
      expect(res.status, path).toBe(404);
      await problemOf(res);
    }
    const post = await api("/sessions", { method: "POST" });
    expect(post.status).toBe(404);
    await problemOf(post);
  });

  it("reports itself in the health registry", async () => {
    const res = await api("/api/v1/system/services/check", {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor(crypto.randomUUID(), "ADMIN")}`, "Content-Type": "application/json" },
      body: JSON.stringify({ services: ["dashboard"] }),
    });
    const body = (await res.json()) as { functions: { name: string; status: string; detail: string | null }[] };
    expect(body.functions.find((f) => f.name === "dashboard")).toMatchObject({ status: "up", detail: "index.html served" });
  });

  it("refuses path traversal", async () => {
    const res = await api("/assets/..%2f..%2fwrangler.toml");
    expect(res.status).toBe(404);
  });
});
