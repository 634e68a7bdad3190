/**
 * For `doctor`: asks a serial port that stays silent whether it is a CAN adapter that only speaks when spoken to
 * (an ELM327/STN chip, an SLCAN adapter before it is opened). Every byte it may send is listed here and in
 * docs/installer-guide.md, and none of them can put a frame on the vehicle bus (design promise 5):
 * - `V` CR: SLCAN's version query (Lawicel `V1013`, CANable `<git hash> <remote>`). An ELM327 answers `?` and a prompt:
 *   `V` is not hexadecimal, so it is never taken for an OBD request.
 * - SLCAN: `N` CR (serial number), then the listen-only open the agent uses (`C`, `S0`..`S8`, `L`; never `O`).
 * - ELM327/STN: `AT I` (version), `AT @1` (device description), `ST I` (STN firmware; a plain ELM327 answers `?`),
 *   `ST DI` (STN device) only when `ST I` was answered, then the agent's monitor init (elmInitCommands: a reset,
 *   formatting, `AT CSM1` silent monitoring, a fixed protocol so no protocol search polls the bus, `AT MA`).
 * - At the end, the adapter is left idle as it was found, so a second doctor run (or the agent) finds it the same way:
 *   SLCAN `C` CR (close); ELM327 `AT Z` CR, which resets an idle chip and, to a monitoring one, arrives as `T Z`
 *   (the character that stops monitoring is discarded, ELM327 data sheet on AT MA) and is answered `?`.
 * Never a lone CR: an ELM327 repeats its previous command on one, which may have been an OBD request.
 */
import { elmInitCommands } from "../../decoders/can/elm327.ts";
import { slcanInitCommands } from "../../decoders/can/slcan.ts";
import { createSerialLineSource, type OpenPort } from "../serial/serial-line-source.ts";

export const SLCAN_VERSION_QUERY = "V\r";
export const SLCAN_SERIAL_QUERY = "N\r";
export const ELM_IDENTITY_QUERIES = ["AT I\r", "AT @1\r", "ST I\r"] as const;
export const STN_DEVICE_QUERY = "ST DI\r";
export const SLCAN_CLOSE = "C\r";
export const ELM_IDLE = "AT Z\r";

/** Lawicel `V` + hardware and software version (`V1013`), or CANable's `<git hash> <remote>`. */
const SLCAN_VERSION = /^(V[0-9A-Fa-f]{4}|[0-9a-f]{7,40} [\x21-\x7e]+)$/;

export interface AdapterIdentity {
  kind: "slcan" | "elm327" | "stn";
  /** What the chip calls itself: `ELM327 v1.5`, `STN1100 v1.2.3` (ST I), `V1013`. */
  version: string;
  /** ELM327 `AT @1` description, STN `ST DI` device. */
  description?: string;
  /** SLCAN `N` serial number. */
  serial?: string;
  /** The ELM327-compatible version an STN chip reports on `AT I`. */
  elmVersion?: string;
}

export interface AskResult {
  opened: boolean;
  identity?: AdapterIdentity;
  /** Lines heard after the adapter was put into listen-only / monitor mode. */
  lines: string[];
}

export interface AskOptions {
  /** How long to wait for each reply. */
  replyMs: number;
  /** How long to listen for frames once the adapter is open listen-only / monitoring. */
  listenMs: number;
  canBitrate: number;
  elmProtocol: string;
  openPort?: OpenPort;
}

const PROMPT = 0x3e;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The reply lines that are not the echo of the command, the prompt or `?`. */
function answers(lines: string[], command: string): string[] {
  const echo = command.trim().toUpperCase();
  return lines.map((l) => l.trim()).filter((l) => l !== "" && l !== ">" && l !== "?" && l.toUpperCase() !== echo);
}

/** One conversation with a port at one speed: identification, then listening once opened the agent's way. */
export async function askAdapter(path: string, baudRate: number, options: AskOptions): Promise<AskResult> {
  const heard: string[] = [];
  let wake: (() => void) | undefined;
  let opened = false;
  let markOpen = () => {};
  const isOpen = new Promise<void>((resolve) => (markOpen = resolve));
  const source = createSerialLineSource(
    { path, baudRate, maxLineBytes: 512, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 },
    {
      promptByte: PROMPT,
      onLine: (line) => {
        if (heard.length < 5000) heard.push(line);
        wake?.();
      },
      onOpen: () => {
        opened = true;
        markOpen();
      },
      ...(options.openPort ? { openPort: options.openPort } : {}),
    },
  );

  /** Writes a command and waits until `done` says the reply is complete, or replyMs passes. */
  async function ask(command: string, done: (reply: string[]) => boolean): Promise<string[]> {
    const from = heard.length;
    await source.write(command);
    const deadline = Date.now() + options.replyMs;
    while (!done(heard.slice(from)) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return heard.slice(from);
  }
  const prompted = (reply: string[]) => reply.includes(">");

  async function listen(): Promise<string[]> {
    const from = heard.length;
    await sleep(options.listenMs);
    return heard.slice(from);
  }

  await source.start();
  try {
    // The open runs in the background; a port that cannot be opened within a reply's time counts as not opened.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([isOpen, new Promise((resolve) => (timer = setTimeout(resolve, options.replyMs)))]);
    clearTimeout(timer);
    if (!opened) return { opened: false, lines: [] };
    const first = await ask(SLCAN_VERSION_QUERY, (r) => prompted(r) || r.some((l) => /^V[0-9A-Fa-f]{4}$/.test(l)));
    if (first.length === 0) return { opened, lines: [] };
    if (first.some((l) => l.trim() === ">" || l.trim() === "?")) {
      // An ELM327-compatible chip: it answered `V` with `?` and its prompt.
      const [atI, atDesc, stI] = ELM_IDENTITY_QUERIES;
      const elmVersion = answers(await ask(atI, prompted), atI).find((l) => /^ELM\d+/i.test(l));
      if (!elmVersion) return { opened, lines: [] };
      const description = answers(await ask(atDesc, prompted), atDesc)[0];
      const stn = answers(await ask(stI, prompted), stI).find((l) => /^STN\d+/i.test(l));
      const identity: AdapterIdentity = stn
        ? {
            kind: "stn",
            version: stn,
            elmVersion,
            ...optional("description", answers(await ask(STN_DEVICE_QUERY, prompted), STN_DEVICE_QUERY)[0]),
          }
        : { kind: "elm327", version: elmVersion, ...optional("description", description) };
      for (const c of elmInitCommands(options.elmProtocol)) {
        if (c.startsWith("AT MA")) await source.write(c);
        else await ask(c, prompted);
      }
      const lines = await listen();
      await ask(ELM_IDLE, prompted);
      return { opened, identity, lines };
    }
    // Anything else that answered is taken for SLCAN only by the shape of a version: a reader at the wrong speed sees
    // line noise, and an adapter someone left streaming answers with frames.
    const version = answers(first, SLCAN_VERSION_QUERY).find((l) => SLCAN_VERSION.test(l));
    if (!version) return { opened, lines: [] };
    const serial = answers(
      await ask(SLCAN_SERIAL_QUERY, (r) => r.some((l) => /^N\w+/.test(l.trim()))),
      SLCAN_SERIAL_QUERY,
    ).find((l) => /^N\w+/.test(l));
    // SLCAN acknowledges with a bare CR (no line) and runs commands in order: written in turn, as the agent does.
    for (const c of slcanInitCommands(options.canBitrate)) await source.write(c);
    const lines = await listen();
    await source.write(SLCAN_CLOSE);
    return { opened, identity: { kind: "slcan", version, ...optional("serial", serial?.slice(1)) }, lines };
  } catch {
    // The port went away mid-conversation: whatever was learnt is not worth a wrong answer.
    return { opened, lines: [] };
  } finally {
    await source.stop();
  }
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
