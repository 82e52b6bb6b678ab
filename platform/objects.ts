import type { Env } from "./env.ts";

/** The bindings of Env that are Durable Object namespaces. */
export type ObjectBinding = {
  [K in keyof Env]-?: NonNullable<Env[K]> extends DurableObjectNamespace<infer _> ? K : never;
}[keyof Env];

/** The class behind a binding (for stub typing). */
type ClassOf<K extends ObjectBinding> =
  Env[K] extends DurableObjectNamespace<infer T extends Rpc.DurableObjectBranded | undefined> ? T : never;

/** Objects of which there is exactly one, and the name it is addressed by. */
export const SINGLETONS = {
  SYSTEM: "system",
  CHAIN: "lucid-chain",
  ADMIN: "admin",
  AUDIT: "audit",
  LEDGER: "ledger",
  SESSION_INDEX: "global",
  NODE_DIRECTORY: "directory",
  USER_INDEX: "directory",
  MAIL_OUTBOX: "outbox",
} as const satisfies Partial<Record<ObjectBinding, string>>;

export type SingletonBinding = keyof typeof SINGLETONS;

/**
 * The one way to reach a Durable Object: the object named `name` behind `binding` (a session
 * id, a user id, a pool name, a guard key), typed by the class the binding holds.
 */
export function objectNamed<K extends ObjectBinding>(env: Env, binding: K, name: string): DurableObjectStub<ClassOf<K>> {
  // TypeScript cannot narrow env[binding] for a generic K; ObjectBinding guarantees the namespace.
  const namespace = env[binding] as unknown as DurableObjectNamespace<ClassOf<K>>;
  return namespace.get(namespace.idFromName(name));
}

/** The single object behind `binding` (the chain, the ledger, the admin object, …). */
export function singleton<K extends SingletonBinding>(env: Env, binding: K): DurableObjectStub<ClassOf<K>> {
  return objectNamed(env, binding, SINGLETONS[binding]);
}
