import { describe, expect, it } from "vitest";
import { replicationPlan } from "./replication.ts";

describe("replicationPlan", () => {
  it("gives three copies and min.insync.replicas 2 on a cluster of three or more", () => {
    expect(replicationPlan(3, 3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2, reduced: undefined });
    expect(replicationPlan(3, 5)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2, reduced: undefined });
  });

  it("takes what a smaller cluster allows and says why", () => {
    const plan = replicationPlan(3, 1);
    expect(plan.replicationFactor).toBe(1);
    expect(plan.minInsyncReplicas).toBeUndefined();
    expect(plan.reduced).toMatch(/replicationFactor is 3 but the cluster has 1 broker/);
  });

  it("leaves -1 (the broker's default) and an explicit smaller factor alone", () => {
    expect(replicationPlan(-1, 3)).toEqual({ replicationFactor: -1, minInsyncReplicas: undefined, reduced: undefined });
    expect(replicationPlan(1, 3)).toEqual({ replicationFactor: 1, minInsyncReplicas: undefined, reduced: undefined });
  });
});
