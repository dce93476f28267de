import { describe, expect, it } from 'vitest';
import { SerialQueues } from '../../src/serial-queues.js';
import { deferred } from '../contract/send-queue.contract.js';

describe('serial queues', () => {
  it('runs the tasks of a key one at a time in push order, keys concurrently, never inside push', async () => {
    const errors: [string, unknown][] = [];
    const queues = new SerialQueues((key, error) => errors.push([key, error]));
    const log: string[] = [];
    const gate = deferred();
    const task = (name: string, wait?: Promise<void>) => async () => {
      log.push(`${name} start`);
      if (wait) await wait;
      log.push(`${name} end`);
    };
    queues.push('a', task('a1', gate.promise));
    queues.push('a', task('a2'));
    queues.push('b', task('b1'));
    expect(log).toEqual([]);
    expect(queues.busy('a')).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    // a1 waits on its gate; a2 waits behind it; b is not held up by a.
    expect(log).toEqual(['a1 start', 'b1 start', 'b1 end']);
    expect(queues.waiting('a')).toBe(1);
    expect(queues.busy('b')).toBe(false);
    queues.push('a', async () => {
      throw new Error('boom');
    });
    queues.push('a', task('a4'));
    gate.resolve();
    await queues.idle();
    expect(log).toEqual(['a1 start', 'b1 start', 'b1 end', 'a1 end', 'a2 start', 'a2 end', 'a4 start', 'a4 end']);
    expect(errors.map(([key, error]) => [key, error instanceof Error ? error.message : error])).toEqual([['a', 'boom']]);
    expect(queues.busy('a')).toBe(false);
    // A key drained and pushed again starts afresh.
    queues.push('a', task('a5'));
    await queues.idle();
    expect(log.at(-1)).toBe('a5 end');
  });

  it('idle waits for tasks pushed while it waits', async () => {
    const queues = new SerialQueues(() => undefined);
    const done: number[] = [];
    queues.push('k', async () => {
      queues.push('other', async () => {
        done.push(2);
      });
      done.push(1);
    });
    await queues.idle();
    expect(done).toEqual([1, 2]);
  });
});
