/**
 * The GPS source: a serial NMEA 0183 receiver → one GpsFix per epoch (see decoders/nmea/epoch.ts for how epochs are
 * found). A receiver that goes quiet (end of its burst, unplugged) has its open epoch flushed after `epochIdleMs`.
 */
import type { Logger } from "../../../common/log.ts";
import { createNmeaAssembler, type NmeaCounters } from "../../decoders/index.ts";
import { parseConfig } from "../serial/config.ts";
import { createSerialLineSource, type OpenPort } from "../serial/serial-line-source.ts";
import type { GpsFix, GpsSourceDeps, PortSource, SourceCounters } from "../types.ts";
import { type GpsSourceConfig, GpsSourceConfigSchema } from "./config.ts";
import { LifecycleGuard } from "../../../common/lifecycle.ts";

export type GpsSource = PortSource;

export function createGpsSource(
  config: GpsSourceConfig,
  deps: GpsSourceDeps & { logger?: Logger; openPort?: OpenPort },
): GpsSource {
  const { epochIdleMs, ...serial } = parseConfig(GpsSourceConfigSchema, config, "gps");
  const nmea = createNmeaAssembler();
  let lastLineAt = 0;
  let pending = false;
  let idleTimer: NodeJS.Timeout | undefined;

  function emit(fixes: readonly GpsFix[]): void {
    for (const fix of fixes) {
      try {
        deps.onFix(fix);
      } catch (error) {
        deps.logger?.error({ err: (error as Error).message }, "onFix threw");
      }
    }
  }

  const port = createSerialLineSource(serial, {
    onLine(line, at) {
      lastLineAt = at;
      pending = true;
      emit(nmea.feed(line));
    },
    onClose() {
      emit(nmea.flush());
      pending = false;
    },
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.openPort ? { openPort: deps.openPort } : {}),
  });

  const life = new LifecycleGuard(`GPS source ${serial.path}`);
  return {
    start: () =>
      life.start(async () => {
        await port.start();
        // One cheap periodic check rather than a timer re-armed on every line.
        idleTimer ??= setInterval(
          () => {
            if (pending && Date.now() - lastLineAt >= epochIdleMs) {
              pending = false;
              emit(nmea.flush());
            }
          },
          Math.max(10, Math.floor(epochIdleMs / 3)),
        );
        idleTimer.unref();
      }),
    stop: () =>
      life.stop(async () => {
        if (idleTimer) clearInterval(idleTimer);
        idleTimer = undefined;
        await port.stop();
      }),
    isOpen: () => port.isOpen(),
    counters(): SourceCounters {
      const n: NmeaCounters = nmea.counters();
      return { ...port.counters(), ...n };
    },
  };
}
