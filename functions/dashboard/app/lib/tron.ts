/**
 * TronLink (and wallets that inject the same `window.tronWeb`): the address it is unlocked
 * with, and TIP-191 signMessageV2 over the login challenge. Without it, the login page shows
 * the message to sign elsewhere and takes the signature pasted back.
 */
interface InjectedTronWeb {
  ready?: boolean;
  defaultAddress?: { base58?: string | false };
  trx: { signMessageV2(message: string): Promise<string> };
}

declare global {
  interface Window {
    tronWeb?: InjectedTronWeb;
    tronLink?: { request(args: { method: string }): Promise<unknown> };
  }
}

export function injectedWallet(): InjectedTronWeb | null {
  const tronWeb = window.tronWeb;
  return tronWeb && typeof tronWeb.trx?.signMessageV2 === "function" ? tronWeb : null;
}

/** Asks TronLink to connect (it prompts once) and returns the selected address. */
export async function walletAddress(): Promise<string | null> {
  const wallet = injectedWallet();
  if (!wallet) return null;
  if (!wallet.defaultAddress?.base58 && window.tronLink) {
    await window.tronLink.request({ method: "tron_requestAccounts" }).catch(() => undefined);
  }
  return wallet.defaultAddress?.base58 || null;
}

export async function signWithWallet(message: string): Promise<string> {
  const wallet = injectedWallet();
  if (!wallet) throw new Error("No TRON wallet extension is available in this browser.");
  return wallet.trx.signMessageV2(message);
}
