import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/node-pool/schema.ts",
  out: "./durable-objects/node-pool/drizzle",
});
