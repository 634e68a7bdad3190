/**
 * Geometry for the detectors: great-circle distance and geofences from a GeoJSON file (RFC 7946). Fences are
 * Polygon or MultiPolygon features; a point is inside when it is inside an outer ring and outside that polygon's
 * holes (even-odd rule on lon/lat, fine at fence scale: a depot, a city, not a hemisphere).
 */
import { z } from "zod";
import { FleetError } from "../../common/errors.ts";
import { parseConfig, readConfigJson } from "../runtime/config.ts";

const EARTH_RADIUS_M = 6_371_000;

export interface LatLon {
  lat: number;
  lon: number;
}

/** Haversine distance in metres. */
export function distanceM(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** [lon, lat] pairs, as GeoJSON writes them. */
type Ring = [number, number][];
type Polygon = Ring[];

export interface Geofence {
  /** The feature's `id` (or `properties.id`): the alert's subject. */
  id: string;
  name: string;
  /** `properties.idlingAllowed`: a depot, where the idling detector stays quiet. */
  idlingAllowed: boolean;
  /** Dwell limit in ms (`properties.dwellMinutes`, else the configured default), or undefined for none. */
  dwellMs: number | undefined;
  polygons: Polygon[];
  /** Bounding box, to skip the ring test for far-away points. */
  box: { minLon: number; minLat: number; maxLon: number; maxLat: number };
}

/** At most this many fences: each record is tested against every fence, and each truck keeps one entry per fence. */
export const MAX_GEOFENCES = 1_000;

const Position = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]).rest(z.number());
const LinearRing = z.array(Position).min(4);
const FeatureSchema = z.object({
  type: z.literal("Feature"),
  id: z.union([z.string(), z.number()]).optional(),
  properties: z
    .object({
      id: z.union([z.string(), z.number()]).optional(),
      name: z.string().optional(),
      idlingAllowed: z.boolean().optional(),
      dwellMinutes: z.number().positive().optional(),
    })
    .passthrough()
    .nullable()
    .optional(),
  geometry: z.discriminatedUnion("type", [
    z.object({ type: z.literal("Polygon"), coordinates: z.array(LinearRing).min(1) }),
    z.object({ type: z.literal("MultiPolygon"), coordinates: z.array(z.array(LinearRing).min(1)).min(1) }),
  ]),
});
const CollectionSchema = z.object({
  type: z.literal("FeatureCollection"),
  features: z.array(FeatureSchema).max(MAX_GEOFENCES),
});

/** Validates a parsed GeoJSON document; the error names the source and the failing path. */
export function parseGeofences(json: unknown, source: string, defaultDwellMinutes?: number): Geofence[] {
  const parsed = parseConfig(CollectionSchema, json, source);
  const seen = new Set<string>();
  return parsed.features.map((feature, index) => {
    const id = String(feature.id ?? feature.properties?.id ?? `fence-${index}`);
    if (seen.has(id)) {
      throw new FleetError("FLEET_CONFIG_INVALID", `${source}: features.${index}: duplicate geofence id ${id}`);
    }
    seen.add(id);
    const polygons: Polygon[] = (
      feature.geometry.type === "Polygon" ? [feature.geometry.coordinates] : feature.geometry.coordinates
    ).map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lon, lat] as [number, number])));
    const all = polygons.flatMap((p) => p[0]!);
    const dwellMinutes = feature.properties?.dwellMinutes ?? defaultDwellMinutes;
    return {
      id,
      name: feature.properties?.name ?? id,
      idlingAllowed: feature.properties?.idlingAllowed ?? false,
      dwellMs: dwellMinutes === undefined ? undefined : dwellMinutes * 60_000,
      polygons,
      box: {
        minLon: Math.min(...all.map((p) => p[0])),
        maxLon: Math.max(...all.map((p) => p[0])),
        minLat: Math.min(...all.map((p) => p[1])),
        maxLat: Math.max(...all.map((p) => p[1])),
      },
    };
  });
}

export async function loadGeofences(file: string, defaultDwellMinutes?: number): Promise<Geofence[]> {
  return parseGeofences(await readConfigJson(file), file, defaultDwellMinutes);
}

function inRing(point: LatLon, ring: Ring): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > point.lat !== yj > point.lat && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
  }
  return inside;
}

export function contains(fence: Geofence, point: LatLon): boolean {
  const { box } = fence;
  if (point.lon < box.minLon || point.lon > box.maxLon || point.lat < box.minLat || point.lat > box.maxLat) {
    return false;
  }
  return fence.polygons.some(([outer, ...holes]) => inRing(point, outer!) && !holes.some((h) => inRing(point, h)));
}

/** Grid cell size of the fence index, degrees: about 5.5 km north-south. */
const CELL_DEG = 0.05;

export interface FenceIndex {
  readonly fences: readonly Geofence[];
  /** The fences whose bounding box touches the point's cell (a superset of those that contain it). */
  near(point: LatLon): readonly Geofence[];
  byId(id: string): Geofence | undefined;
}

/**
 * A grid over the fences' bounding boxes, so a record is tested against the few fences near it instead of all of
 * them (1,000 fences times every record was the detectors' largest cost).
 */
export function indexFences(fences: readonly Geofence[]): FenceIndex {
  const cells = new Map<string, Geofence[]>();
  const cell = (lat: number, lon: number) => `${Math.floor(lat / CELL_DEG)}:${Math.floor(lon / CELL_DEG)}`;
  for (const fence of fences) {
    const { box } = fence;
    for (let y = Math.floor(box.minLat / CELL_DEG); y <= Math.floor(box.maxLat / CELL_DEG); y += 1) {
      for (let x = Math.floor(box.minLon / CELL_DEG); x <= Math.floor(box.maxLon / CELL_DEG); x += 1) {
        const key = `${y}:${x}`;
        const list = cells.get(key);
        if (list) list.push(fence);
        else cells.set(key, [fence]);
      }
    }
  }
  const ids = new Map(fences.map((f) => [f.id, f]));
  const none: Geofence[] = [];
  return {
    fences,
    near: (point) => cells.get(cell(point.lat, point.lon)) ?? none,
    byId: (id) => ids.get(id),
  };
}
