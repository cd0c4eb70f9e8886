/**
 * Memoize a function of a string in a bounded map. The redirect sees the same few user agents and
 * proxy addresses over and over, and the uncached work (isbot's patterns, node's BlockList) costs
 * 3–6 µs each time — as much as a whole bare redirect.
 * The map is emptied when full, which bounds memory against a flood of distinct values at the
 * price of recomputing.
 */
export function memoized<T>(fn: (s: string) => T, max = 10_000): (s: string) => T {
  const cache = new Map<string, T>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) {
      if (cache.size >= max) cache.clear();
      cache.set(s, (v = fn(s)));
    }
    return v;
  };
}
