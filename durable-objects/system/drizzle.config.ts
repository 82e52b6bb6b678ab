import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/system/schema.ts",
  out: "./durable-objects/system/drizzle",
});
