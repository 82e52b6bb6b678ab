import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/audit/schema.ts",
  out: "./durable-objects/audit/drizzle",
});
