// drizzle-kit's durable-sqlite migrations import .sql files; wrangler's Text rule bundles them as strings.
declare module "*.sql" {
  const sql: string;
  export default sql;
}
