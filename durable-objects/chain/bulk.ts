import { getTableColumns, getTableName } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * Whole-batch statements for the chain's hot paths (a submit of 1000 anchors, a block of them).
 * DO SQLite binds at most 100 parameters a statement, i.e. a dozen rows; these pass every row as
 * one JSON parameter instead and read it back with json_each, so a batch is one statement
 * rather than dozens. Names come from the drizzle schema, so they follow it.
 */

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

type Row<T extends SQLiteTable> = T["$inferInsert"];

/**
 * Inserts `rows` (all with the given keys) in order, in one statement; with `upsert`, a row whose
 * `target` exists updates the `set` columns from the new row instead.
 */
export function insertRows<T extends SQLiteTable>(
  storage: DurableObjectStorage,
  table: T,
  keys: readonly (keyof Row<T> & string)[],
  rows: readonly Row<T>[],
  upsert?: { target: keyof Row<T> & string; set: readonly (keyof Row<T> & string)[] },
): void {
  if (rows.length === 0) return;
  const columns = getTableColumns(table) as Record<string, SQLiteColumn>;
  const name = (key: string) => quote(columns[key]!.name);
  // Booleans as 0/1: SQLite has none, and ->> would return JSON true as 1 anyway.
  const values = rows.map((row) => keys.map((key) => encode((row as Record<string, unknown>)[key])));
  // In array order (autoincrement keys follow it); "WHERE true" keeps SQLite from reading an
  // ON CONFLICT clause as a join constraint of the SELECT.
  let text = `INSERT INTO ${quote(getTableName(table))} (${keys.map(name).join(", ")}) SELECT ${keys.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?) WHERE true ORDER BY key`;
  if (upsert)
    text += ` ON CONFLICT (${name(upsert.target)}) DO UPDATE SET ${upsert.set.map((k) => `${name(k)} = excluded.${name(k)}`).join(", ")}`;
  storage.sql.exec(text, JSON.stringify(values));
}

/**
 * Updates the `set` columns of the rows of `table` whose `target` equals a given row's, in one
 * statement; given rows with no such row in the table change nothing.
 */
export function updateRows<T extends SQLiteTable>(
  storage: DurableObjectStorage,
  table: T,
  target: keyof Row<T> & string,
  set: readonly (keyof Row<T> & string)[],
  rows: readonly Partial<Row<T>>[],
): void {
  if (rows.length === 0) return;
  const columns = getTableColumns(table) as Record<string, SQLiteColumn>;
  const name = (key: string) => quote(columns[key]!.name);
  const tableName = quote(getTableName(table));
  const keys = [target, ...set];
  const values = rows.map((row) => keys.map((key) => encode((row as Record<string, unknown>)[key])));
  const text = `UPDATE ${tableName} SET ${set.map((k, i) => `${name(k)} = j.value ->> ${i + 1}`).join(", ")} FROM json_each(?) AS j WHERE ${tableName}.${name(target)} = j.value ->> 0`;
  storage.sql.exec(text, JSON.stringify(values));
}

function encode(value: unknown): unknown {
  if (value === undefined) return null;
  return typeof value === "boolean" ? Number(value) : value;
}

/**
 * The values of `column` among `values` that rows of `table` hold, in one statement; `where` (SQL
 * over the table's own columns, with `?` parameters) narrows the rows.
 */
export function presentValues<T extends SQLiteTable>(
  storage: DurableObjectStorage,
  table: T,
  column: keyof Row<T> & string,
  values: readonly string[],
  where?: { text: string; params: readonly (string | number)[] },
): Set<string> {
  if (values.length === 0) return new Set();
  const columns = getTableColumns(table) as Record<string, SQLiteColumn>;
  const name = quote(columns[column]!.name);
  const text = `SELECT DISTINCT ${name} AS v FROM ${quote(getTableName(table))} WHERE ${name} IN (SELECT value FROM json_each(?))${where ? ` AND (${where.text})` : ""}`;
  return new Set(
    storage.sql
      .exec<{ v: string }>(text, JSON.stringify(values), ...(where?.params ?? []))
      .toArray()
      .map((r) => r.v),
  );
}
