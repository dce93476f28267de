import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LuaScript } from '../../src/storage/redis/lua-script.js';
import { closeRedis, openRedis } from '../../src/storage/redis/redis-connection.js';
import { evalshaCalls } from '../helpers/redis-stats.js';
import { redisSuite } from '../helpers/redis-suite.js';

/** Echoes what it was given: its keys, then its arguments, with their Lua types. */
const ECHO_SOURCE = `
local out = {}
for _, k in ipairs(KEYS) do out[#out + 1] = 'k:' .. k end
for _, a in ipairs(ARGV) do out[#out + 1] = type(a) .. ':' .. a end
return out`;
const ECHO = new LuaScript(ECHO_SOURCE);
const ECHO_SHA = createHash('sha1').update(ECHO_SOURCE).digest('hex');

const FAIL = new LuaScript(`return redis.call('INCR', KEYS[1])`);

describe('Lua scripts', () => {
  const redis = redisSuite();

  it('sends keys and arguments unchanged (numbers in their decimal text), by SHA1, and loads the script again after a SCRIPT FLUSH', async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'lua:echo' });
    try {
      const many = Array.from({ length: 3_000 }, (_, i) => (i % 2 === 0 ? i : `a${i}`));
      const expected = ['k:x', 'k:y', ...many.map((a) => `string:${String(a)}`)];
      // First run: NOSCRIPT, then EVAL (which caches it).
      expect(await ECHO.run(connection, ['x', 'y'], many)).toEqual(expected);
      const before = await evalshaCalls(redis.admin);
      expect(await ECHO.run(connection, ['x', 'y'], [1.5, -2, '', 'é'])).toEqual(['k:x', 'k:y', 'string:1.5', 'string:-2', 'string:', 'string:é']);
      expect((await evalshaCalls(redis.admin)) - before).toBe(1);
      await redis.admin.script('FLUSH');
      expect(await redis.admin.script('EXISTS', ECHO_SHA)).toEqual([0]);
      expect(await ECHO.run(connection, [], ['again'])).toEqual(['string:again']);
      expect(await redis.admin.script('EXISTS', ECHO_SHA)).toEqual([1]);
    } finally {
      await closeRedis(connection);
    }
  });

  it("rejects with the script's error", async () => {
    const connection = await openRedis({ url: redis.server.url, name: 'lua:fail' });
    try {
      await redis.admin.sadd('lua:set', 'member');
      await expect(FAIL.run(connection, ['lua:set'], [])).rejects.toThrow(/WRONGTYPE/);
      await redis.admin.del('lua:set');
      expect(await FAIL.run(connection, ['lua:set'], [])).toBe(1);
    } finally {
      await closeRedis(connection);
    }
  });
});
