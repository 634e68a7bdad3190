/**
 * How many copies the topics the bridge creates get. Design: acknowledged means "on at least two brokers"
 * (replication factor 3, min.insync.replicas 2), so losing one broker neither loses an acknowledged record nor stops
 * the fleet. A cluster with fewer brokers than asked for cannot create such a topic at all (Kafka refuses with
 * INVALID_REPLICATION_FACTOR), so the bridge creates it with what the cluster allows, says so loudly, and reports
 * the replication it got in its ready line: a development broker keeps working, a production one is not silently
 * unsafe.
 */

export interface ReplicationPlan {
  /** What createTopics asks for; -1 = the broker's default.replication.factor. */
  replicationFactor: number;
  /** Topic-level min.insync.replicas to set, when the plan has enough copies for two to be required. */
  minInsyncReplicas: number | undefined;
  /** Why fewer copies than configured (undefined when as configured). */
  reduced: string | undefined;
}

/** `wanted`: kafka.replicationFactor (-1 = broker default); `brokers`: how many brokers the cluster has now. */
export function replicationPlan(wanted: number, brokers: number): ReplicationPlan {
  if (wanted === -1) return { replicationFactor: -1, minInsyncReplicas: undefined, reduced: undefined };
  const replicationFactor = Math.max(1, Math.min(wanted, brokers));
  return {
    replicationFactor,
    // With 3 copies, 2 in sync are required for acks=all: one broker may fail, an acknowledged record is on two.
    minInsyncReplicas: replicationFactor >= 3 ? 2 : undefined,
    reduced:
      replicationFactor < wanted
        ? `kafka.replicationFactor is ${wanted} but the cluster has ${brokers} broker(s): topics get ` +
          `${replicationFactor} cop${replicationFactor === 1 ? "y" : "ies"}, so losing a broker can lose ` +
          `acknowledged records (fine for development, not for a fleet)`
        : undefined,
  };
}
