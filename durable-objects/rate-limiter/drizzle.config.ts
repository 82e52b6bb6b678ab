import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/rate-limiter/schema.ts",
  out: "./durable-objects/rate-limiter/drizzle",
});
