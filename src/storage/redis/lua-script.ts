import { createHash } from 'node:crypto';
import { Command, type Redis } from 'ioredis';

/**
 * A command whose arguments are strings already, in one flat array: ioredis' own Command copies
 * its arguments with `Array.prototype.flat`, which V8 runs at ~150–200 ns an element — for a
 * tick's batched script (thousands of arguments) about 12 µs of CPU per message sent (P2,
 * docs/benchmarks.md §15). Made empty, then given the array unchanged: with no arguments to
 * convert (all strings, no Buffer) and no transformer for EVAL/EVALSHA, that is all ioredis' constructor
 * would have done with them.
 */
class StringArgsCommand extends Command {
  constructor(name: 'evalsha' | 'eval', args: string[]) {
    // Replies in strings, like `redis.evalsha` gives them (our connections set no keyPrefix).
    super(name, [], { replyEncoding: 'utf8' });
    this.args = args;
  }
}

function scriptArgs(head: string, keys: readonly string[], args: readonly (string | number)[]): string[] {
  const out = new Array<string>(2 + keys.length + args.length);
  out[0] = head;
  out[1] = String(keys.length);
  let i = 2;
  for (const key of keys) out[i++] = key;
  for (const arg of args) out[i++] = typeof arg === 'string' ? arg : String(arg);
  return out;
}

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
      return await send(redis, new StringArgsCommand('evalsha', scriptArgs(this.sha, keys, args)));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return send(redis, new StringArgsCommand('eval', scriptArgs(this.source, keys, args)));
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

function send(redis: Redis, command: Command): Promise<unknown> {
  void redis.sendCommand(command);
  return command.promise;
}
