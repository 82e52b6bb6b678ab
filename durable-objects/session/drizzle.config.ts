import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/session/schema.ts",
  out: "./durable-objects/session/drizzle",
});
