import { describe, expect, it } from "vitest";
import { ApiError } from "../../shared/errors.ts";
import { ok, outcome, refuse, RefusalError, unwrap } from "../../shared/outcome.ts";

describe("shared/outcome: the one refusal-as-value shape every Durable Object returns", () => {
  it("ok and refuse build the two sides; refuse omits absent extensions", () => {
    expect(ok(3)).toEqual({ ok: true, value: 3 });
    expect(refuse("not-found", "No such thing.")).toEqual({ ok: false, problem: { slug: "not-found", detail: "No such thing." } });
    expect(refuse("conflict", "Gaps.", { missing: [1, 4] })).toEqual({
      ok: false,
      problem: { slug: "conflict", detail: "Gaps.", extensions: { missing: [1, 4] } },
    });
  });

  it("outcome() turns a RefusalError into a refusal and lets any other error through", async () => {
    expect(await outcome(() => "done")).toEqual({ ok: true, value: "done" });
    expect(await outcome(async () => 7)).toEqual({ ok: true, value: 7 });
    const refused = await outcome(() => {
      throw new RefusalError("invalid-amount", "amount must be greater than zero.", { min: "1.000000" });
    });
    expect(refused).toEqual({
      ok: false,
      problem: { slug: "invalid-amount", detail: "amount must be greater than zero.", extensions: { min: "1.000000" } },
    });
    await expect(outcome(() => Promise.reject(new TypeError("bug")))).rejects.toThrow(TypeError);
  });

  it("unwrap returns the value or throws the ApiError the refusal names", () => {
    expect(unwrap(ok({ id: "a" }))).toEqual({ id: "a" });
    let thrown: unknown;
    try {
      unwrap(refuse("invalid-state", "The server is stopped.", { state: "stopped" }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({
      slug: "invalid-state",
      status: 409,
      message: "The server is stopped.",
      extensions: { state: "stopped" },
    });
  });
});
