import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/session-index/schema.ts",
  out: "./durable-objects/session-index/drizzle",
});
