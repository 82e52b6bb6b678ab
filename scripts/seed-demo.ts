// Demo data for `npm start`, created through the public API so it exercises the real code: a
// SUPER_ADMIN (TOTP enrolled), a node operator with an enrolled node that heartbeats, a user with an
// anchored recording made by the agent's pipeline. Every step is idempotent: the second run finds
// what the first made. Keys live in the git-ignored .wrangler/demo/identities.json.
import { dirname, join } from "node:path";
import { DemoNode, enrolTotp, tronLogin } from "./demo/actors.ts";
import { DemoHttp } from "./demo/http.ts";
import { IdentityStore, nodeKeyOf, walletOf, type Identities } from "./demo/identities.ts";
import { recordDemoSession } from "./demo/recording.ts";

export const DEMO_SESSION_TITLE = "Demo: quarterly report on the Pi";
const ROOT = new URL("..", import.meta.url).pathname;

export function demoIdentityStore(root = ROOT): IdentityStore {
  return new IdentityStore(join(root, ".wrangler", "demo", "identities.json"));
}

/** The variable wrangler dev needs before it starts: the demo admin becomes SUPER_ADMIN on first login. */
export function demoDevVars(identities: Identities): Record<string, string> {
  return { BOOTSTRAP_SUPER_ADMIN_ADDRESS: walletOf(identities, "admin").address };
}

interface SessionSummary {
  id: string;
  title: string;
  state: string;
}

interface SeedContext {
  http: DemoHttp;
  store: IdentityStore;
  identities: Identities;
  tokens: Partial<Record<"admin" | "operator" | "user", string>>;
  userIds: Partial<Record<"admin" | "operator" | "user", string>>;
  node?: DemoNode;
}

async function accounts(ctx: SeedContext): Promise<string> {
  const admin = walletOf(ctx.identities, "admin");
  let login = await tronLogin(ctx.http, admin, ctx.identities.adminTotpSecret);
  if (login.user.role !== "SUPER_ADMIN") {
    throw new Error(
      `the demo admin ${admin.address} is ${login.user.role}, not SUPER_ADMIN: BOOTSTRAP_SUPER_ADMIN_ADDRESS in .dev.vars must name it before its first login`,
    );
  }
  if (login.secondFactor === "enrolment-required") {
    const { secret, recoveryCodes } = await enrolTotp(ctx.http, login.accessToken);
    ctx.identities.adminTotpSecret = secret;
    ctx.store.save(ctx.identities);
    // Confirming spent this 30 s step's code: log in with a recovery code instead of waiting for the next.
    login = await tronLogin(ctx.http, admin, secret, recoveryCodes[0]);
  }
  ctx.tokens.admin = login.accessToken;
  ctx.userIds.admin = login.user.id;

  const operatorWallet = walletOf(ctx.identities, "operator");
  let operator = await tronLogin(ctx.http, operatorWallet);
  if (operator.user.role === "USER") {
    await ctx.http.call(`/api/v1/users/${operator.user.id}/role`, {
      method: "PUT",
      token: ctx.tokens.admin,
      body: { role: "NODE_OPERATOR" },
    });
    operator = await tronLogin(ctx.http, operatorWallet);
  }
  ctx.tokens.operator = operator.accessToken;
  ctx.userIds.operator = operator.user.id;

  const user = await tronLogin(ctx.http, walletOf(ctx.identities, "user"));
  ctx.tokens.user = user.accessToken;
  ctx.userIds.user = user.user.id;
  return `admin ${admin.address} (SUPER_ADMIN, TOTP), operator ${operatorWallet.address}, user ${user.user.tronAddress}`;
}

async function node(ctx: SeedContext): Promise<string> {
  const { secretKey, publicKey } = nodeKeyOf(ctx.identities);
  const demoNode = new DemoNode(ctx.http, secretKey, publicKey);
  const { node: view, created } = await demoNode.enrol(
    ctx.userIds.operator!,
    ctx.tokens.operator!,
    walletOf(ctx.identities, "operator").address,
  );
  await demoNode.heartbeat(1, 0);
  ctx.node = demoNode;
  return `${view.id} in ${view.pool} ${created ? "registered" : "already registered"}, heartbeat sent`;
}

async function recording(ctx: SeedContext): Promise<string> {
  const { http, node: demoNode } = ctx;
  const token = ctx.tokens.user!;
  const page = await http.call<{ items: SessionSummary[] }>(`/api/v1/sessions?limit=100`, { token });
  let session = page.items.find((s) => s.title === DEMO_SESSION_TITLE && !["failed", "cancelled"].includes(s.state));
  // A session left in `recording` by an interrupted seed resumes from its spool below.
  if (session && session.state !== "created" && session.state !== "recording") {
    return `${session.id} already recorded (${session.state})`;
  }
  session ??= await http.call<SessionSummary>("/api/v1/sessions", {
    token,
    body: {
      nodeId: demoNode!.id,
      title: DEMO_SESSION_TITLE,
      tags: ["demo", "office"],
      notes: "Made by the demo seed through the agent's pipeline.",
    },
  });
  if (session.state === "created") await http.call(`/api/v1/sessions/${session.id}/start`, { token, body: {} });
  const { key } = await http.call<{ key: string }>(`/api/v1/sessions/${session.id}/key`, {
    headers: { "X-Node-Credential": demoNode!.credential },
  });
  const uploaded = await recordDemoSession({
    base: http.base,
    spoolDir: join(dirname(ctx.store.path), `spool-${session.id}`),
    sessionId: session.id,
    key: Uint8Array.from(Buffer.from(key, "base64")),
    nodeCredential: demoNode!.credential,
    startEpochMs: Date.now() - 60_000,
    chunkCount: 3,
    framesPerChunk: 40,
  });
  await http.call(`/api/v1/sessions/${session.id}/stop`, { token, body: { chunkCount: uploaded.chunks } });
  await demoNode!.heartbeat(1, uploaded.bytes);
  return `${session.id}: ${uploaded.chunks} chunks (${uploaded.bytes} bytes) recorded, uploaded and stopped; it anchors in the next block`;
}

export const SEED_STEPS: { name: string; run: (ctx: SeedContext) => Promise<string> }[] = [
  { name: "accounts", run: accounts },
  {
    // Operations endpoints need ADMIN: checked with the admin's token, after the accounts step.
    name: "health registry",
    async run({ http, tokens }) {
      const report = await http.call<{ functions: unknown[]; status: string }>("/api/v1/system/services", { token: tokens.admin });
      return `${report.functions.length} functions checked, overall ${report.status}`;
    },
  },
  { name: "node", run: node },
  { name: "recording", run: recording },
];

export async function seedDemo(base: string, store = demoIdentityStore(), log: (line: string) => void = console.log): Promise<void> {
  const identities = store.loadOrCreate();
  const ctx: SeedContext = { http: new DemoHttp(base), store, identities, tokens: {}, userIds: {} };
  for (const step of SEED_STEPS) {
    try {
      log(`  seed: ${step.name}: ${await step.run(ctx)}`);
    } catch (error) {
      log(`  seed: ${step.name} failed: ${error instanceof Error ? error.message : error}`);
      throw error;
    }
  }
  const admin = walletOf(identities, "admin");
  // Never the secret itself: where it is (a 0600 file) and how to get a code from it.
  const totp = identities.adminTotpSecret
    ? `TOTP secret in the same file (adminTotpSecret); \`npm run demo:sign -- admin "<message>"\` prints the current code`
    : "TOTP not enrolled";
  log(`  demo logins: wallet keys in ${store.path} (mode 0600); admin ${admin.address}, ${totp}`);
}
