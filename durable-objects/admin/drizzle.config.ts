import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/admin/schema.ts",
  out: "./durable-objects/admin/drizzle",
});
