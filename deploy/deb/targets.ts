/**
 * The Debian architectures FleetSync is packaged for, and which native prebuilds each one keeps.
 *
 * classic-level (LevelDB) and @serialport/bindings-cpp ship prebuilt addons for every platform in
 * node_modules/<pkg>/prebuilds/<platform>-<arch>/; node-gyp-build picks one at run time from the process's
 * arch, its ARM version (process.config.variables.arm_version) and libc (musl only on Alpine). A package keeps
 * the folder of its own architecture and drops the musl builds: Debian and Raspberry Pi OS use glibc.
 */
import { FleetError } from "../../common/errors.ts";
import { ELF_MACHINES } from "./elf.ts";

export interface DebTarget {
  /** Debian architecture name (dpkg --print-architecture). */
  deb: "amd64" | "arm64" | "armhf";
  /** The prebuilds folder node-gyp-build looks in on this architecture. */
  prebuildDir: string;
  /** e_machine every ELF file in the package must have. */
  elfMachine: number;
  elfBits: 32 | 64;
}

export const DEB_TARGETS: readonly DebTarget[] = [
  { deb: "amd64", prebuildDir: "linux-x64", elfMachine: ELF_MACHINES.x86_64, elfBits: 64 },
  { deb: "arm64", prebuildDir: "linux-arm64", elfMachine: ELF_MACHINES.aarch64, elfBits: 64 },
  // armhf keeps the armv6 builds beside armv7: 32-bit Raspberry Pi OS is built for ARMv6 (Pi 1 and Zero), and
  // node-gyp-build chooses between them by the ARM version Node itself was built for.
  { deb: "armhf", prebuildDir: "linux-arm", elfMachine: ELF_MACHINES.arm, elfBits: 32 },
];

export function debTarget(name: string): DebTarget {
  const target = DEB_TARGETS.find((t) => t.deb === name);
  if (!target) {
    const known = DEB_TARGETS.map((t) => t.deb).join(", ");
    throw new FleetError("FLEET_USAGE", `unknown architecture ${JSON.stringify(name)}; known: ${known}`);
  }
  return target;
}

/**
 * Whether a path inside a package's `prebuilds/` folder belongs in the target's .deb. `relative` is the path
 * below `prebuilds/`, e.g. "linux-arm/classic-level.armv7.node".
 */
export function keepPrebuild(target: DebTarget, relative: string): boolean {
  const [platformDir, file] = relative.split("/");
  if (platformDir !== target.prebuildDir) return false;
  if (file === undefined) return true;
  return !file.includes(".musl.");
}
