import { describe, expect, it } from 'vitest';
import { randomHex } from '../../src/random-hex.js';

describe('randomHex', () => {
  it('gives lowercase hex of the asked length, distinct across pool refills', () => {
    const ids = Array.from({ length: 2_000 }, () => randomHex(12));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(randomHex(1)).toMatch(/^[0-9a-f]{2}$/);
    expect(() => randomHex(4097)).toThrow(RangeError);
  });
});
