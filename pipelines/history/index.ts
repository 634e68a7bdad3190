/** pipelines/history: every record into PostgreSQL exactly once (group fleetsync-history), its schema and queries. */
export {
  type HistoryConfig,
  type HistoryConfigInput,
  HistoryConfigSchema,
  loadHistoryConfig,
  parseHistoryConfig,
} from "./config.ts";
export { MIGRATIONS, migrate, type Migration, SCHEMA_VERSION } from "./migrations.ts";
export { createHistoryService, type HistoryService, type HistoryServiceDeps } from "./service.ts";
export { createHistoryStore, type HistoryStore, type WriteResult } from "./store.ts";
