/** The outbox contract on a real LevelDB on disk (the store the agent runs on). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLevelStore } from "../../../agent/outbox/level-store.ts";
import { outboxContract } from "../../../agent/outbox/outbox.contract.ts";

outboxContract("LevelDB on disk", async () => {
  const dir = await mkdtemp(join(tmpdir(), "fleetsync-outbox-"));
  return {
    open: () => createLevelStore({ dir: join(dir, "db"), sync: true }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
