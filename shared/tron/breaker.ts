/**
 * A circuit breaker: after `threshold` consecutive failures it opens and refuses calls for
 * `cooldownMs`, then lets one trial call through (half-open); a success closes it again.
 * Keeps a failing TRON node from tying up every request for the full timeout × retries.
 */
export class CircuitOpenError extends Error {
  override name = "CircuitOpenError";
}

export class CircuitBreaker {
  #failures = 0;
  #openedAt: number | null = null;
  #trialInFlight = false;

  readonly threshold: number;
  readonly cooldownMs: number;
  private readonly now: () => number;

  constructor(threshold: number, cooldownMs: number, now: () => number = Date.now) {
    this.threshold = threshold;
    this.cooldownMs = cooldownMs;
    this.now = now;
    if (threshold < 1 || cooldownMs < 0) throw new Error("CircuitBreaker: threshold ≥ 1, cooldownMs ≥ 0");
  }

  get state(): "closed" | "open" | "half-open" {
    if (this.#openedAt === null) return "closed";
    return this.now() - this.#openedAt >= this.cooldownMs ? "half-open" : "open";
  }

  /** `isFailure` decides which errors count (an answered rejection means the node is up). */
  async run<T>(call: () => Promise<T>, isFailure: (error: unknown) => boolean = () => true): Promise<T> {
    const state = this.state;
    if (state === "open" || (state === "half-open" && this.#trialInFlight)) {
      throw new CircuitOpenError("TRON node circuit is open after repeated failures; retry later");
    }
    const trial = state === "half-open";
    if (trial) this.#trialInFlight = true;
    try {
      const result = await call();
      this.#failures = 0;
      this.#openedAt = null;
      return result;
    } catch (error) {
      if (!isFailure(error)) {
        this.#failures = 0;
        this.#openedAt = null;
        throw error;
      }
      this.#failures += 1;
      if (trial || this.#failures >= this.threshold) this.#openedAt = this.now();
      throw error;
    } finally {
      if (trial) this.#trialInFlight = false;
    }
  }
}
