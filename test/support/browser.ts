/**
 * A real browser for page tests: Debian's chromium (installed by .ci/run; CHROMIUM_PATH overrides), driven by
 * playwright-core, which brings no browser of its own.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  const found = candidates.find((p): p is string => p !== undefined && existsSync(p));
  if (!found) throw new Error("no chromium found: apt-get install chromium (as .ci/run does), or set CHROMIUM_PATH");
  return found;
}

export function launchBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}
