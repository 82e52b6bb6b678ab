// npm run demo:sign -- <admin|operator|user> "<message>": signs a login challenge with one of the demo
// wallets `npm start` created (TIP-191, as TronLink would), for pasting into the dashboard's login;
// for the admin it also prints the current TOTP code. Local demo only: the keys are in .wrangler/demo.
import { existsSync } from "node:fs";
import { totpCode } from "../shared/totp.ts";
import { signMessageV2 } from "../shared/tron/message-signature.ts";
import { walletOf, type WalletName } from "./demo/identities.ts";
import { demoIdentityStore } from "./seed-demo.ts";

const USAGE = 'usage: npm run demo:sign -- <admin|operator|user> "<message the dashboard shows>"';
const [name, message] = process.argv.slice(2);
const store = demoIdentityStore();
if (!name || !["admin", "operator", "user"].includes(name) || !message) {
  console.error(USAGE);
  process.exit(64);
}
if (!existsSync(store.path)) {
  console.error(`no demo wallets yet: run \`npm start\` once (it creates ${store.path})`);
  process.exit(66);
}
const identities = store.loadOrCreate();
const wallet = walletOf(identities, name as WalletName);
console.log(`address:   ${wallet.address}`);
console.log(`signature: ${signMessageV2(message, wallet.key)}`);
if (name === "admin" && identities.adminTotpSecret) {
  console.log(
    `TOTP code: ${totpCode(identities.adminTotpSecret, Math.floor(Date.now() / 1000))} (changes every 30 s; each code works once)`,
  );
}
