import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/mail-outbox/schema.ts",
  out: "./durable-objects/mail-outbox/drizzle",
});
