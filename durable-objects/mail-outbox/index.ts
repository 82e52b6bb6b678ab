import { desc } from "drizzle-orm";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export type OutboxMessage = typeof schema.outbox.$inferSelect;

const KEEP = 200;

/** Development outbox (one instance, "outbox"): what the dev mailer would have sent; ADMIN reads it. */
export class MailOutboxDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  async put(message: { to: string; subject: string; text: string }): Promise<number> {
    await this.ready();
    const row = this.db
      .insert(schema.outbox)
      .values({ at: Date.now(), ...message })
      .returning({ id: schema.outbox.id })
      .get();
    this.ctx.storage.sql.exec("DELETE FROM outbox WHERE id <= ?", row.id - KEEP);
    return row.id;
  }

  async list(limit: number): Promise<OutboxMessage[]> {
    await this.ready();
    return this.db
      .select()
      .from(schema.outbox)
      .orderBy(desc(schema.outbox.id))
      .limit(Math.max(1, Math.min(KEEP, limit)))
      .all();
  }
}
