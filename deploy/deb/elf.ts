/**
 * Reads the machine an ELF file was built for, from its header alone, so the packaging and its test can prove a
 * package holds native code for its own architecture. Layout: System V ABI, "ELF Header" (e_ident, e_machine).
 */
import { open } from "node:fs/promises";

/** e_machine values (ELF specification, "Machine" table) for the architectures FleetSync packages. */
export const ELF_MACHINES = { x86_64: 62, arm: 40, aarch64: 183 } as const;
export type ElfMachineName = keyof typeof ELF_MACHINES;

export interface ElfHeader {
  /** 32 or 64 (e_ident[EI_CLASS]). */
  bits: 32 | 64;
  /** e_machine, e.g. 183 for AArch64. */
  machine: number;
  /** The name from ELF_MACHINES, or "unknown(N)". */
  machineName: string;
}

/** The ELF header of `file`, or undefined when it is not an ELF file. */
export async function readElfHeader(file: string): Promise<ElfHeader | undefined> {
  const handle = await open(file, "r");
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    // e_ident starts with 0x7f 'E' 'L' 'F'.
    if (bytesRead < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const elfClass = head[4];
    if (elfClass !== 1 && elfClass !== 2) return undefined;
    // EI_DATA (byte 5): 1 little-endian, 2 big-endian; e_machine is the 16-bit field at offset 18.
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    const name = (Object.keys(ELF_MACHINES) as ElfMachineName[]).find((key) => ELF_MACHINES[key] === machine);
    return { bits: elfClass === 1 ? 32 : 64, machine, machineName: name ?? `unknown(${machine})` };
  } finally {
    await handle.close();
  }
}
