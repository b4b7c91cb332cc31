/**
 * Seeded randomness for specs: a small PRNG (mulberry32), so a failing run can be replayed, and the
 * seeds of a run (`SPEC_SEED=<n>` replays one).
 */

/** A PRNG giving floats in [0, 1) from a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seeds to run: `SPEC_SEED` alone when set, else `defaults`. */
export function seeds(defaults: number[]): number[] {
  const given = process.env.SPEC_SEED;
  return given ? [Number(given)] : defaults;
}
