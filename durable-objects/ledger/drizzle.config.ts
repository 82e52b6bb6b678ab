import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/ledger/schema.ts",
  out: "./durable-objects/ledger/drizzle",
});
