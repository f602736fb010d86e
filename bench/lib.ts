/** Shared benchmark helpers (not a benchmark itself: `bench/run.mjs` runs only `*.bench.*`). */

/** Median wall time in ms (3 decimals) of `n` runs of `fn`, after `warmup` untimed runs. */
export async function timeMedian(n: number, fn: () => Promise<unknown> | unknown, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return Math.round(t[Math.floor(n / 2)]! * 1000) / 1000;
}
