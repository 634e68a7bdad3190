/**
 * Files a build carries beside the compiled JavaScript. tsc compiles only .ts files, and the live map serves its
 * page from the folder beside its module (pipelines/map/page), so every build (`npm run build`, the tests' build)
 * copies these into its output folder.
 *
 *   tsx deploy/static-assets.ts OUT_DIR     (npm run build runs it with dist)
 */
import { cpSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..");
export const STATIC_ASSETS = ["pipelines/map/page"] as const;

export function copyStaticAssets(outDir: string): void {
  for (const path of STATIC_ASSETS) cpSync(join(REPO, path), join(outDir, path), { recursive: true });
}

if (process.argv[1] === import.meta.filename) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write("usage: tsx deploy/static-assets.ts OUT_DIR\n");
    process.exit(2);
  }
  copyStaticAssets(resolve(outDir));
}
