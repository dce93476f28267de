import { describe, expect, it } from 'vitest';
import { NUMBER_LOOKUP_TTL_MS, NumberLookupCache } from '../../src/contacts/number-lookup-cache.js';

/** A lookup that answers `<phone>@c.us` (null for …0000) and counts its calls. */
function countingLookup(): { lookup: (phone: string) => Promise<string | null>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup: async (phone) => {
      calls.push(phone);
      return phone.endsWith('0000') ? null : `${phone}@c.us`;
    },
  };
}

describe('NumberLookupCache', () => {
  it('reuses answers, positive and negative, for 10 minutes, then asks again', async () => {
    let now = 1_000_000;
    const cache = new NumberLookupCache({ now: () => now });
    const { lookup, calls } = countingLookup();
    expect(await cache.resolve('s', '5511911110001', lookup)).toBe('5511911110001@c.us');
    expect(await cache.resolve('s', '5511911110000', lookup)).toBeNull();
    now += NUMBER_LOOKUP_TTL_MS - 1;
    expect(await cache.resolve('s', '5511911110001', lookup)).toBe('5511911110001@c.us');
    expect(await cache.resolve('s', '5511911110000', lookup)).toBeNull();
    expect(calls).toHaveLength(2);
    now += 1;
    await cache.resolve('s', '5511911110001', lookup);
    expect(calls).toEqual(['5511911110001', '5511911110000', '5511911110001']);
  });

  it('keeps sessions apart, shares one call between concurrent lookups, and forgets a session', async () => {
    const cache = new NumberLookupCache();
    const { lookup, calls } = countingLookup();
    await Promise.all([cache.resolve('a', '5511911110001', lookup), cache.resolve('a', '5511911110001', lookup)]);
    await cache.resolve('b', '5511911110001', lookup);
    expect(calls).toHaveLength(2);
    cache.forgetSession('a');
    await cache.resolve('a', '5511911110001', lookup);
    await cache.resolve('b', '5511911110001', lookup);
    expect(calls).toHaveLength(3);
  });

  it('never caches a failed lookup', async () => {
    const cache = new NumberLookupCache();
    let fail = true;
    const lookup = async (phone: string): Promise<string | null> => {
      if (fail) throw new Error('WhatsApp Web is not reachable');
      return `${phone}@c.us`;
    };
    await expect(cache.resolve('s', '5511911110001', lookup)).rejects.toThrow('not reachable');
    fail = false;
    expect(await cache.resolve('s', '5511911110001', lookup)).toBe('5511911110001@c.us');
  });

  it('is bounded: the oldest answers go first', async () => {
    const cache = new NumberLookupCache({ maxEntries: 3 });
    const { lookup, calls } = countingLookup();
    for (const phone of ['5511900000001', '5511900000002', '5511900000003', '5511900000004']) await cache.resolve('s', phone, lookup);
    expect(cache.size).toBe(3);
    await cache.resolve('s', '5511900000004', lookup);
    await cache.resolve('s', '5511900000002', lookup);
    expect(calls).toHaveLength(4);
    await cache.resolve('s', '5511900000001', lookup);
    expect(calls).toHaveLength(5);
  });
});
