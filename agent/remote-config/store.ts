/**
 * The applied remote overlay on disk. A power cut can come at any instant, so the file is replaced, never
 * rewritten: the new content goes to a temp file in the same folder, is fsync'd, renamed over the old one (rename
 * is atomic on POSIX file systems) and the folder is fsync'd so the rename itself survives. A reader then finds the
 * old overlay or the new one, whole; a temp file left by a crash is ignored and replaced next time.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FleetError } from "../../common/errors.ts";
import { checkRemoteConfig, type RemoteConfig } from "../../protocol/index.ts";

/** The overlay the agent last applied, or undefined when there is none (or the file cannot be trusted). */
export async function loadOverlay(
  file: string,
  truckId: string,
): Promise<{ overlay?: RemoteConfig; problem?: string }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    return { problem: `cannot read ${file}: ${(error as Error).message}` };
  }
  const check = checkRemoteConfig(text, truckId);
  return check.ok ? { overlay: check.config } : { problem: `${file}: ${check.reason}` };
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces the overlay atomically; undefined removes it (unlink is atomic too). */
export async function saveOverlay(file: string, overlay: RemoteConfig | undefined): Promise<void> {
  const folder = dirname(file);
  try {
    if (overlay === undefined) {
      await rm(file, { force: true });
    } else {
      const temp = join(folder, `.${basename(file)}.${process.pid}.tmp`);
      const handle = await open(temp, "w", 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(overlay)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    }
    await fsyncPath(folder, "r");
  } catch (error) {
    throw new FleetError(
      "FLEET_CONFIG_INVALID",
      `cannot write the remote config ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
