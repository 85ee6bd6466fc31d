/**
 * The seeders' randomness: mulberry32, seeded per purpose (`rng(seed, 'messages', chunk)`), so a
 * phase or a chunk can be regenerated alone (resume) and gives the same rows every time.
 */
export interface Rng {
  (): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
  /** An index in [0, n) skewed towards 0: a Zipf-like "a few busy ones" law (skew 1 = uniform). */
  skewed(n: number, skew?: number): number;
  /** k distinct items, in a random order. */
  sample<T>(items: readonly T[], k: number): T[];
}

function hash(parts: readonly (string | number)[]): number {
  let h = 2166136261;
  for (const part of parts) {
    const text = `${part}|`;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}

export function rng(...parts: (string | number)[]): Rng {
  let a = hash(parts);
  const next = (() => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }) as Rng;
  next.int = (min, max) => min + Math.floor(next() * (max - min + 1));
  next.pick = (items) => items[Math.floor(next() * items.length)];
  next.chance = (p) => next() < p;
  next.skewed = (n, skew = 2.5) => Math.min(n - 1, Math.floor(n * Math.pow(next(), skew)));
  next.sample = <T>(items: readonly T[], k: number): T[] => {
    const copy = items.slice();
    const take = Math.min(k, copy.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(next() * (copy.length - i));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, take);
  };
  return next;
}

/** Picks an index by weight in O(log n) (cumulative weights, binary search). */
export function weightedPicker(weights: readonly number[]): (r: number) => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return (r) => {
    const target = r * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}
