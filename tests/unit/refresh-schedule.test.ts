import { describe, expect, it } from 'vitest';
import { RefreshSchedule, refreshIntervalMs } from '../../src/storage/redis/refresh-schedule.js';

describe('RefreshSchedule', () => {
  it('makes a key due on its first write and again once the interval has passed, not in between', () => {
    const schedule = new RefreshSchedule(1_000);
    expect(schedule.due('a', 10_000)).toBe(true);
    expect(schedule.due('a', 10_001)).toBe(false);
    expect(schedule.due('a', 10_999)).toBe(false);
    expect(schedule.due('b', 10_999)).toBe(true);
    expect(schedule.due('a', 11_000)).toBe(true);
    // Counted from the last refresh, not from the first one.
    expect(schedule.due('a', 11_500)).toBe(false);
    expect(schedule.due('a', 12_000)).toBe(true);
  });

  it('makes a forgotten key due at once, and every key under a forgotten prefix', () => {
    const schedule = new RefreshSchedule(60_000);
    for (const key of ['p:msgs:s1:all', 'p:msgs:s1:chat:x', 'p:msgs:s10:all', 'p:events:s1']) expect(schedule.due(key, 0)).toBe(true);
    schedule.forget('p:events:s1');
    expect(schedule.due('p:events:s1', 1)).toBe(true);
    schedule.forgetPrefix('p:msgs:s1:');
    expect(schedule.due('p:msgs:s1:all', 2)).toBe(true);
    expect(schedule.due('p:msgs:s1:chat:x', 2)).toBe(true);
    // Another session whose id starts the same is not touched.
    expect(schedule.due('p:msgs:s10:all', 2)).toBe(false);
  });

  it('remembers at most 10,000 keys, forgetting the least recently refreshed first', () => {
    const schedule = new RefreshSchedule(60_000);
    for (let i = 0; i < 10_000; i++) schedule.due(`k${i}`, i < 5_000 ? 0 : 1);
    expect(schedule.due('extra', 2)).toBe(true);
    // k0 was dropped for it: due again although its interval has not passed; k1 is still known.
    expect(schedule.due('k1', 3)).toBe(false);
    expect(schedule.due('k0', 3)).toBe(true);
  });

  it('a round flags what one script refreshes, once per key, and undoes its keys when the script fails', () => {
    const schedule = new RefreshSchedule(60_000);
    expect(schedule.due('known', 0)).toBe(true);
    const round = schedule.round(10);
    expect([round.flag('a'), round.flag('a'), round.flag('known'), round.flag(undefined), round.flag('b')]).toEqual(['1', '0', '0', '0', '1']);
    round.undo();
    const next = schedule.round(20);
    expect([next.flag('a'), next.flag('b'), next.flag('known')]).toEqual(['1', '1', '0']);
  });

  it('refreshes every tenth of the TTL, at most every minute', () => {
    expect(refreshIntervalMs(30 * 24 * 3_600_000)).toBe(60_000);
    expect(refreshIntervalMs(60_000)).toBe(6_000);
    expect(refreshIntervalMs(5)).toBe(1);
  });
});
