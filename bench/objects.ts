/**
 * The data of the benchmark, shared by the servers and the clients: objects of F string fields
 * (16 characters each, like the reference figures), and update values that carry their own
 * sequence number so a receiver can tell which update it got (for latency).
 */

/** Length of every field value. */
export const VALUE_LENGTH = 16;

/** The initial object number `i` (ids are 1..M, as the MemoryStore numbers them). */
export function makeObject(i: number, fields: number): Record<string, string> {
  const obj: Record<string, string> = {};
  for (let f = 0; f < fields; f++) obj[`f${f}`] = `o${i}f${f}`.padEnd(VALUE_LENGTH, '.');
  return obj;
}

/** The value an update with sequence number `seq` writes: unique, 16 characters. */
export function encodeValue(seq: number): string {
  return String(seq).padStart(VALUE_LENGTH, '0');
}

/** The sequence number of an update value, or -1 for a value that is not one. */
export function decodeValue(value: unknown): number {
  if (typeof value !== 'string' || value.length !== VALUE_LENGTH) return -1;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : -1;
}
