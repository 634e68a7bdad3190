/**
 * Vitest global setup: one real PostgreSQL for the whole run. DATABASE_URL uses an existing server (its user must
 * be allowed to create databases); otherwise the throw-away server of deploy/postgres starts here and stops in
 * teardown. The server also watches this process, so an interrupted run never leaves it behind. Each test makes its
 * own database from this URL (test/support/postgres.ts).
 */
import type { TestProject } from "vitest/node";
import { type LocalPostgres, startLocalPostgres } from "../../deploy/postgres/local-postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let local: LocalPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  const fromEnv = process.env.DATABASE_URL?.trim();
  if (fromEnv) {
    project.provide("databaseUrl", fromEnv);
    return;
  }
  const began = Date.now();
  local = await startLocalPostgres();
  process.stderr.write(`postgres: local server ${local.url} ready in ${Date.now() - began} ms\n`);
  project.provide("databaseUrl", local.url);
}

export async function teardown(): Promise<void> {
  await local?.stop();
  local = undefined;
}
