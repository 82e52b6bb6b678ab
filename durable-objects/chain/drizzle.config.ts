import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/chain/schema.ts",
  out: "./durable-objects/chain/drizzle",
});
