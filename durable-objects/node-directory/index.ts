import { asc, eq, lt, sql } from "drizzle-orm";
import { ok, refuse, type Outcome } from "../../shared/outcome.ts";
import { SqlDurableObject } from "../base.ts";
import migrations from "./drizzle/migrations.js";
import * as schema from "./schema.ts";

export interface PlacementRequest {
  nodeId: string;
  operatorId: string;
  publicKey: string;
  /** A specific pool; omitted, the first pool with room (a new one if all are full). */
  pool?: string;
  maxNodes: number;
}

export interface Placement {
  nodeId: string;
  pool: string;
  operatorId: string;
}

/**
 * The node directory (one instance, named "directory"): which pool holds each node, which
 * nodes each operator owns, and how full each pool is. It opens pools on demand and refuses a
 * public key that is already registered anywhere.
 */
export class NodeDirectoryDO extends SqlDurableObject<typeof schema> {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env, schema, migrations);
  }

  async place(request: PlacementRequest): Promise<Outcome<Placement>> {
    await this.ready();
    const { pools, placements } = schema;
    return this.ctx.storage.transactionSync((): Outcome<Placement> => {
      const taken = this.db.select().from(placements).where(eq(placements.publicKey, request.publicKey)).get();
      if (taken) return refuse("conflict", "This node public key is already registered.", { nodeId: taken.nodeId });
      let pool: string;
      if (request.pool !== undefined) {
        const wanted = this.db.select().from(pools).where(eq(pools.name, request.pool)).get();
        if (!wanted) return refuse("not-found", `No node pool "${request.pool}".`);
        if (wanted.nodeCount >= request.maxNodes) {
          return refuse("pool-full", `Pool ${wanted.name} already holds ${wanted.nodeCount} nodes (max ${request.maxNodes}).`, {
            pool: wanted.name,
            maxNodes: request.maxNodes,
          });
        }
        pool = wanted.name;
      } else {
        const open = this.db.select().from(pools).where(lt(pools.nodeCount, request.maxNodes)).orderBy(asc(pools.number)).get();
        pool = open?.name ?? this.#openPool();
      }
      this.db
        .insert(placements)
        .values({ nodeId: request.nodeId, pool, operatorId: request.operatorId, publicKey: request.publicKey, createdAt: Date.now() })
        .run();
      this.db
        .update(pools)
        .set({ nodeCount: sql`${pools.nodeCount} + 1` })
        .where(eq(pools.name, pool))
        .run();
      return ok({ nodeId: request.nodeId, pool, operatorId: request.operatorId });
    });
  }

  /** Undoes a placement whose registration the pool refused. */
  async release(nodeId: string): Promise<void> {
    await this.ready();
    const { pools, placements } = schema;
    this.ctx.storage.transactionSync(() => {
      const row = this.db.select().from(placements).where(eq(placements.nodeId, nodeId)).get();
      if (!row) return;
      this.db.delete(placements).where(eq(placements.nodeId, nodeId)).run();
      this.db
        .update(pools)
        .set({ nodeCount: sql`${pools.nodeCount} - 1` })
        .where(eq(pools.name, row.pool))
        .run();
    });
  }

  async locate(nodeId: string): Promise<Placement | null> {
    await this.ready();
    const row = this.db.select().from(schema.placements).where(eq(schema.placements.nodeId, nodeId)).get();
    return row ? { nodeId: row.nodeId, pool: row.pool, operatorId: row.operatorId } : null;
  }

  async nodesOf(operatorId: string): Promise<Placement[]> {
    await this.ready();
    return this.db
      .select({ nodeId: schema.placements.nodeId, pool: schema.placements.pool, operatorId: schema.placements.operatorId })
      .from(schema.placements)
      .where(eq(schema.placements.operatorId, operatorId))
      .orderBy(asc(schema.placements.createdAt))
      .all();
  }

  async listPools(): Promise<{ name: string; nodeCount: number }[]> {
    await this.ready();
    return this.db
      .select({ name: schema.pools.name, nodeCount: schema.pools.nodeCount })
      .from(schema.pools)
      .orderBy(asc(schema.pools.number))
      .all();
  }

  #openPool(): string {
    const last = this.db
      .select({ max: sql<number | null>`max(${schema.pools.number})` })
      .from(schema.pools)
      .get();
    const number = (last?.max ?? 0) + 1;
    const name = `pool-${number}`;
    this.db.insert(schema.pools).values({ name, number, nodeCount: 0, createdAt: Date.now() }).run();
    return name;
  }
}
