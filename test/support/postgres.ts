/** PostgreSQL helpers for integration tests: the run's server (global setup) and one database per test. */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

export function databaseUrl(): string {
  return inject("databaseUrl");
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** Drops the database (closing what still uses it); best effort, so cleanup never hides a test's result. */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database of its own for one test, on `serverUrl` (default: the run's server). */
export async function createTestDatabase(prefix: string, serverUrl = databaseUrl()): Promise<TestDatabase> {
  const name = `t_${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    url: withDatabase(serverUrl, name),
    name,
    drop: () =>
      admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(
        () => undefined,
        () => undefined,
      ),
  };
}

/** One statement on its own connection: for tests that look at the database from outside the service. */
export async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}
