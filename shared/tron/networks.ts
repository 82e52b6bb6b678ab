/** TRON networks Lucid can use. TronGrid needs the TRON-PRO-API-KEY header on mainnet. */
export const TRON_NETWORKS = {
  mainnet: { rpcUrl: "https://api.trongrid.io", usdtContract: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" },
  shasta: { rpcUrl: "https://api.shasta.trongrid.io", usdtContract: "TG3XXyExBkPp9nzdajDZsozEu4BkaSJozs" },
  // Community-cited contract: check decimals() at start before trusting it.
  nile: { rpcUrl: "https://nile.trongrid.io", usdtContract: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf" },
} as const;

export type TronNetwork = keyof typeof TRON_NETWORKS;
