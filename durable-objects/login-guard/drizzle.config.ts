import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/login-guard/schema.ts",
  out: "./durable-objects/login-guard/drizzle",
});
