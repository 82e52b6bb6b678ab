import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/user-index/schema.ts",
  out: "./durable-objects/user-index/drizzle",
});
