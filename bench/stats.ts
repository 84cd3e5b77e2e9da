/** Percentile (nearest rank) of samples in milliseconds. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Runs `fn` `reps` times and returns the best wall time in ms (the least disturbed run). */
export async function bestOf(reps: number, fn: () => unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** A latency row of samples (ms): what, how many, p50, p99, and the p50 as a ratio to the baseline's p50 `base`. */
export function latencyRow(what: string, samples: number[], base: number): (string | number)[] {
  const p50 = percentile(samples, 50);
  return [what, samples.length, fmt(p50, 3), fmt(percentile(samples, 99), 3), fmt(p50 / base)];
}
