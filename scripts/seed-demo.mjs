// Demo data for `npm start`, created through the public API so it exercises the real code.
// Every step is idempotent: running it on every start changes nothing the second time.

/** @type {{ name: string, run: (base: string) => Promise<string> }[]} */
export const SEED_STEPS = [
  {
    name: "health registry",
    async run(base) {
      const res = await fetch(`${base}/api/v1/system/services`);
      const report = await res.json();
      return `${report.functions.length} functions checked, overall ${report.status}`;
    },
  },
];

export async function seedDemo(base, log = console.log) {
  for (const step of SEED_STEPS) {
    try {
      log(`  seed: ${step.name}: ${await step.run(base)}`);
    } catch (error) {
      log(`  seed: ${step.name} failed: ${error instanceof Error ? error.message : error}`);
      throw error;
    }
  }
}
