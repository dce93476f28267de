import { describe, expect, it } from 'vitest';
import { dropOldest } from '../../src/bounded-map.js';

describe('dropOldest', () => {
  it('drops the first-inserted keys until the map is at the bound', () => {
    const map = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    dropOldest(map, 2);
    expect([...map.keys()]).toEqual(['c', 'd']);
    dropOldest(map, 5);
    expect([...map.keys()]).toEqual(['c', 'd']);
  });

  it('keeps a key re-inserted on use (LRU) and drops the one used longest ago', () => {
    const map = new Map([['a', 1], ['b', 2], ['c', 3]]);
    map.delete('a');
    map.set('a', 1);
    map.set('d', 4);
    dropOldest(map, 3);
    expect([...map.keys()]).toEqual(['c', 'a', 'd']);
  });

  it('drops through the given function, which may clean up beside the map', () => {
    const map = new Map([['a', 1], ['b', 2], ['c', 3]]);
    const dropped: string[] = [];
    dropOldest(map, 1, (key) => {
      dropped.push(key);
      map.delete(key);
    });
    expect(dropped).toEqual(['a', 'b']);
    expect([...map.keys()]).toEqual(['c']);
  });

  it('stops when the drop function removes nothing instead of looping forever', () => {
    const map = new Map([['a', 1], ['b', 2]]);
    const tried: string[] = [];
    dropOldest(map, 0, (key) => tried.push(key));
    expect(tried).toEqual(['a']);
    expect(map.size).toBe(2);
  });
});
