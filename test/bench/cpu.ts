/** CPU time of benchmark processes: unlike records/s, hardly moved by other processes on a busy machine. */
import { readFile } from "node:fs/promises";

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of proc(5); [0] here is field 3 (state).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
