/**
 * Prototype-pollution detection: a snapshot of the built-in prototypes (own keys and the identity of
 * each property's value, getter and setter), and what differs from it later.
 */

const WATCHED: Array<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['Number.prototype', Number.prototype],
  ['Boolean.prototype', Boolean.prototype],
  ['Error.prototype', Error.prototype],
  ['Promise.prototype', Promise.prototype],
  ['Map.prototype', Map.prototype],
  ['Set.prototype', Set.prototype],
];

type Snapshot = Map<string, Map<string | symbol, [unknown, unknown, unknown]>>;

/** Records the built-in prototypes as they are now. */
export function snapshotPrototypes(): Snapshot {
  const snapshot: Snapshot = new Map();
  for (const [name, proto] of WATCHED) {
    const props = new Map<string | symbol, [unknown, unknown, unknown]>();
    for (const key of Reflect.ownKeys(proto)) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      props.set(key, [d.value, d.get, d.set]);
    }
    snapshot.set(name, props);
  }
  return snapshot;
}

/** Every difference from `snapshot` (added, removed or replaced properties), plus direct probes. */
export function pollutionSince(snapshot: Snapshot): string[] {
  const found: string[] = [];
  for (const [name, proto] of WATCHED) {
    const before = snapshot.get(name)!;
    const keys = Reflect.ownKeys(proto);
    for (const key of keys) {
      const d = Object.getOwnPropertyDescriptor(proto, key)!;
      const old = before.get(key);
      if (!old) found.push(`${name}.${String(key)} added`);
      else if (old[0] !== d.value || old[1] !== d.get || old[2] !== d.set)
        found.push(`${name}.${String(key)} replaced`);
    }
    for (const key of before.keys()) if (!keys.includes(key)) found.push(`${name}.${String(key)} removed`);
  }
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'isAdmin', 'x', 'a', 'b'])
    if (probe[key] !== undefined) found.push(`({}).${key} is ${JSON.stringify(probe[key])}`);
  if (probe.constructor !== Object) found.push('({}).constructor is not Object');
  if (Object.getPrototypeOf(probe) !== Object.prototype) found.push('({}) has another prototype');
  return found;
}

/** Paths of forbidden keys (`__proto__`, `constructor`, `prototype`) anywhere inside `value`. */
export function forbiddenKeyPaths(value: unknown, path = ''): string[] {
  const found: string[] = [];
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    for (const key of Object.keys(v)) {
      const at = `${p}.${key}`;
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') found.push(at);
      stack.push([(v as Record<string, unknown>)[key], at]);
    }
  }
  return found;
}
