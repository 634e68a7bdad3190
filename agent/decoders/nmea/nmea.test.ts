import { describe, expect, it } from "vitest";
import { createNmeaAssembler } from "./epoch.ts";
import { parseSentence } from "./sentence.ts";

function feedAll(lines: string[]) {
  const a = createNmeaAssembler();
  const fixes = lines.flatMap((l) => [...a.feed(l)]);
  fixes.push(...a.flush());
  return { fixes, counters: a.counters() };
}

// u-blox ANTARIS (gpsd fixture bt451), one epoch at 2 Hz.
const EPOCH = [
  "$GPRMC,152505.00,A,5547.82113,N,02334.14130,E,0.253,,091209,,,A*7A",
  "$GPVTG,,T,,M,0.253,N,0.469,K,A*2C",
  "$GPGGA,152505.00,5547.82113,N,02334.14130,E,1,04,2.72,37.0,M,26.9,M,,*6B",
  "$GPGSA,A,3,26,32,11,14,,,,,,,,,6.25,2.72,5.62*05",
  "$GPGLL,5547.82113,N,02334.14130,E,152505.00,A,A*64",
];

describe("NMEA sentences", () => {
  it("accepts a good checksum and any talker", () => {
    expect(parseSentence("$GNRMC,171926.00,A,4404.14063,N,12118.85478,W,0.117,,180315,,,A*76\r")).toMatchObject({
      kind: "ok",
      talker: "GN",
      type: "RMC",
    });
  });

  it("rejects a wrong or missing checksum", () => {
    expect(parseSentence("$GPGGA,152505.00,5547.82113,N,02334.14130,E,1,04,2.72,37.0,M,26.9,M,,*6C").kind).toBe(
      "badChecksum",
    );
    expect(parseSentence("$GPBOD,,T,,M,,*").kind).toBe("badChecksum");
    expect(parseSentence("$GPGGA,152505.00,5547.82113,N").kind).toBe("badChecksum");
  });

  it("skips proprietary sentences unread and calls noise notNmea", () => {
    expect(parseSentence("$PGRME,15.0,M,22.5,M,27.0,M*1A").kind).toBe("proprietary");
    expect(parseSentence("\u0000\u00ff garbage").kind).toBe("notNmea");
  });
});

describe("NMEA epoch assembler", () => {
  it("merges one epoch into one fix with speed in km/h, altitude, satellites and DOP", () => {
    const { fixes } = feedAll(EPOCH);
    expect(fixes).toHaveLength(1);
    expect(fixes[0]).toMatchObject({
      time: "2009-12-09T15:25:05.000Z",
      fix: "3d",
      altM: 37,
      sats: 4,
      hdop: 2.72,
      pdop: 6.25,
    });
    expect(fixes[0]!.lat).toBeCloseTo(55.797018833, 8);
    expect(fixes[0]!.lon).toBeCloseTo(23.569021667, 8);
    expect(fixes[0]!.speedKmh).toBeCloseTo(0.469, 3);
  });

  it("never uses a sentence with a bad checksum, and counts it", () => {
    const corrupted = [EPOCH[0]!.replace("5547.82113", "5547.82999"), ...EPOCH.slice(1, 2)];
    const { fixes, counters } = feedAll(corrupted);
    expect(counters.badChecksum).toBe(1);
    expect(fixes[0]?.lat ?? null).toBeNull();
  });

  it("emits at once on the learned end of the burst, without waiting for the next epoch", () => {
    const a = createNmeaAssembler();
    const epochAt = (t: string) =>
      EPOCH.map((l) => {
        const body = l.slice(1, l.indexOf("*")).replaceAll("152505.00", t);
        let x = 0;
        for (const c of body) x ^= c.charCodeAt(0);
        return `$${body}*${x.toString(16).toUpperCase().padStart(2, "0")}`;
      });
    for (const t of ["152505.00", "152506.00", "152507.00"]) for (const l of epochAt(t)) a.feed(l);
    const lines = epochAt("152508.00");
    const out = lines.map((l) => a.feed(l).length);
    // The previous epoch already left on its GLL; this one leaves on its own GLL, not on the next RMC.
    expect(out).toEqual([0, 0, 0, 0, 1]);
  });

  it("reports no fix without position when the receiver says void", () => {
    const { fixes } = feedAll(["$GPRMC,,V,,,,,,,,,,N*53", "$GPGGA,,,,,,0,00,99.99,,,,,,*48"]);
    expect(fixes[0]).toMatchObject({ fix: "none", lat: null, lon: null, time: null });
  });

  it("counts unknown and proprietary sentences and skips them", () => {
    const { counters } = feedAll(["$GPTXT,01,01,02,ANTSTATUS=OK*3B", "$PGRMZ,2282,f,3*21"]);
    expect(counters).toMatchObject({ unknown: 1, proprietary: 1, sentences: 0 });
  });
});

describe("one GSA per constellation (issue 15.4)", () => {
  it("keeps the epoch whole when a burst ends with two GNGSA: every fix has its position", async () => {
    const { readFileSync } = await import("node:fs");
    const { fileURLToPath } = await import("node:url");
    const log = readFileSync(
      fileURLToPath(new URL("../../../../shared/fixtures/nmea/gpsd/neo-m8n.log", import.meta.url)),
      "latin1",
    );
    // The u-blox NEO-M8N's own burst (RMC VTG GGA GSA GSA GSV... GLL), trimmed to what some receivers send:
    // RMC, GGA and one GSA per constellation, so the burst ends on the second $GNGSA.
    const lines = log
      .split(/\r?\n/)
      .filter((l) => /^\$GN(RMC|GGA|GSA)/.test(l))
      .slice(0, 4 * 20);
    const { fixes } = feedAll(lines);
    expect(fixes.length).toBeGreaterThanOrEqual(19);
    for (const f of fixes) {
      expect(f.fix).toBe("3d");
      expect(f.lat).not.toBeNull();
      expect(f.time).not.toBeNull();
    }
  });
});
