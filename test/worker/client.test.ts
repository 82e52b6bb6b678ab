import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLucidClient } from "../../functions/client.ts";

// The Electron GUI's client: request and response types come from the route definitions.
const client = createLucidClient("https://lucid.test", {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    request.headers.set("CF-Connecting-IP", "192.0.2.10");
    return exports.default.fetch(request);
  },
});

describe("typed client (hc<AppType>)", () => {
  it("calls routes with typed inputs and outputs", async () => {
    const res = await client.api.v1.system.services.check.$post({ json: { services: ["gateway"] } });
    expect(res.status).toBe(200);
    if (res.status !== 200) return;
    const report = await res.json();
    const names: string[] = report.functions.map((f) => f.name);
    expect(names).toEqual(["gateway"]);

    const one = await client.api.v1.system.services[":name"].$get({ param: { name: "gateway" } });
    expect(one.status).toBe(200);
    if (one.status === 200) expect((await one.json()).status).toBe("up");
  });
});
