import type { Origins, Values } from './source.js';

export interface Layer {
  values: Values;
  origins: Origins;
}

function isPlainObject(value: unknown): value is Values {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Merges layers in order, later layers winning. Plain objects merge deeply;
 * scalars and arrays replace. Every key keeps the origin of the layer that set
 * it last; a key replaced by a scalar forgets the origins of its old children.
 */
export function mergeLayers(layers: readonly Layer[]): Layer {
  const values: Values = {};
  const origins: Origins = new Map();
  for (const layer of layers) {
    mergeInto(values, layer.values, '', origins, layer.origins);
  }
  return { values, origins };
}

function mergeInto(target: Values, source: Values, prefix: string, origins: Origins, sourceOrigins: Origins): void {
  for (const [key, value] of Object.entries(source)) {
    const path = prefix + key;
    const origin = sourceOrigins.get(path);
    if (isPlainObject(value) && isPlainObject(target[key])) {
      mergeInto(target[key] as Values, value, `${path}.`, origins, sourceOrigins);
      if (origin) origins.set(path, origin);
      continue;
    }
    for (const existing of [...origins.keys()]) {
      if (existing.startsWith(`${path}.`)) origins.delete(existing);
    }
    target[key] = isPlainObject(value) ? structuredClone(value) : value;
    if (origin) origins.set(path, origin);
    if (isPlainObject(value)) {
      for (const [childPath, childOrigin] of sourceOrigins) {
        if (childPath.startsWith(`${path}.`)) origins.set(childPath, childOrigin);
      }
    }
  }
}
