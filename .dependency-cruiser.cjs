// Lucid's layers point one way: shared/ → platform/ → durable-objects/ → functions/ (DESIGN.md,
// "Conventions"). `npm run lint:layers` (part of `npm test`) fails on an import that points up.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "shared-is-pure",
      comment: "shared/ is used by the Worker and the agent alike: it imports no other layer of ours.",
      severity: "error",
      from: { path: "^shared/" },
      to: { path: "^(platform|durable-objects|functions|edge-adapter|pi-agent|scripts|test|bench)/" },
    },
    {
      name: "shared-has-no-node-builtins",
      comment: "shared/ runs in workerd too: no Node built-ins (node:crypto, node:fs, …).",
      severity: "error",
      from: { path: "^shared/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "platform-below-objects",
      comment:
        "platform/ (chunk store, metrics buffer, the Env type) sits below the Durable Objects and the functions. " +
        "Only type imports may name a Durable Object class (platform/env.ts types the bindings).",
      severity: "error",
      from: { path: "^platform/" },
      to: { path: "^(durable-objects|functions)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "platform-not-functions",
      severity: "error",
      from: { path: "^platform/" },
      to: { path: "^functions/" },
    },
    {
      name: "objects-below-functions",
      comment: "A Durable Object never imports a function (route) module: shared code goes to platform/ or shared/.",
      severity: "error",
      from: { path: "^durable-objects/" },
      to: { path: "^functions/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|functions/dashboard/dist)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js", ".mjs", ".json"] },
  },
};
