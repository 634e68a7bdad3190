/**
 * The records the bridge produces, for the Kafka client benchmarks (bench:kafkajs, bench:kafka-clients): each with
 * a truck-id key, a ~330-byte JSON value and the bridge's five headers, `trucks` trucks taking turns.
 */
export interface BridgeRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export function bridgeRecords(count: number, trucks: number): BridgeRecord[] {
  const headers = {
    "fleet-schema": "fleetsync.telemetry",
    "fleet-schema-version": "1",
    "content-type": "application/json",
    "fleet-mqtt-topic": "fleetsync/v1/truck-00007/telemetry",
    "fleet-received-at": new Date().toISOString(),
  };
  return Array.from({ length: count }, (_, i) => {
    const truckId = `truck-${String(i % trucks).padStart(5, "0")}`;
    const record = {
      truckId,
      stream: "3f9c2a7d",
      seq: 100_000 + i,
      ts: new Date(1_790_000_000_000 + i * 1000).toISOString(),
      timeSource: "gnss",
      gps: { lat: 52.520008, lon: 13.404954, altM: 34.2, speedKmh: 81.4, courseDeg: 181.3, fix: "3d", sats: 11 },
      engine: { rpm: 1450, coolantC: 88, fuelLevelPct: 54.3, fuelRateLph: 23.1, odometerKm: 183_204.5 },
    };
    return { key: truckId, value: JSON.stringify(record), headers };
  });
}
