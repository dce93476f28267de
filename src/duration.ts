/** Parses the contract's duration syntax: integer milliseconds or a number with a unit. */
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(input: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(input);
  if (!match) return null;
  const value = Number(match[1]);
  const unit = UNITS[match[2] ?? 'ms'] ?? 1;
  const ms = Math.round(value * unit);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Formats milliseconds the way the contract writes defaults (`60s`, `2h`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
