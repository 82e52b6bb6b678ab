import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/rdp-host/schema.ts",
  out: "./durable-objects/rdp-host/drizzle",
});
