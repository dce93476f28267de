import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run by its SHA1 (EVALSHA), loaded on first use: EVAL would send the whole source
 * with every call, which measured as the largest single CPU cost of the send path (writing the
 * script text to the socket). A NOSCRIPT reply (Redis restarted, SCRIPT FLUSH) falls back to
 * EVAL once, which also caches the script again.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * Lua: `entry(pcall(f, ...))` is f's result, or the error's text when f failed — so that a script
 * doing several independent steps under pcall answers each one alone (one refusing key fails only its step).
 */
export const LUA_PCALL_ENTRY = `
local function entry(ok, result)
  if ok then return result end
  if type(result) == 'table' and result.err then return result.err end
  return tostring(result)
end`;
