import { describe, expect, it } from 'vitest';
import { ScriptBatch } from '../../src/storage/redis/script-batch.js';

interface Sent {
  items: readonly number[];
  reply: (value: unknown) => void;
  fail: (error: Error) => void;
}

/** A batch whose scripts are answered by the test, one call per turn of the microtask queue flushed. */
function batchOf(ordered: boolean): { batch: ScriptBatch<number, number>; sent: Sent[] } {
  const sent: Sent[] = [];
  const batch = new ScriptBatch<number, number>({
    maxPerScript: 2,
    schedule: (flush) => queueMicrotask(flush),
    send: (items) =>
      new Promise((resolve, reject) => {
        sent.push({ items, reply: resolve, fail: reject });
      }),
    settle: (_item, entry) => Number(entry),
    ordered,
  });
  return { batch, sent };
}

/** Lets every pending microtask and promise continuation run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ScriptBatch', () => {
  it('sends a full batch at once and the rest of the turn together, one reply entry per call', async () => {
    const { batch, sent } = batchOf(false);
    const answers = [1, 2, 3].map((n) => batch.add(n));
    await settle();
    expect(sent.map((s) => s.items)).toEqual([[1, 2], [3]]);
    sent[0]?.reply([10, 20]);
    sent[1]?.reply([30]);
    expect(await Promise.all(answers)).toEqual([10, 20, 30]);
  });

  it('answers each batch when its reply comes, unless ordered', async () => {
    const { batch, sent } = batchOf(false);
    const done: number[] = [];
    for (const n of [1, 2, 3, 4]) void batch.add(n).then(() => done.push(n));
    await settle();
    sent[1]?.reply([3, 4]);
    await settle();
    expect(done).toEqual([3, 4]);
    sent[0]?.reply([1, 2]);
    await settle();
    expect(done).toEqual([3, 4, 1, 2]);
  });

  it('ordered: answers the batches in the order they were sent, whatever order the replies come in', async () => {
    const { batch, sent } = batchOf(true);
    const done: number[] = [];
    for (const n of [1, 2, 3, 4, 5]) void batch.add(n).then(() => done.push(n), () => done.push(-n));
    await settle();
    expect(sent).toHaveLength(3);
    sent[2]?.reply([5]);
    sent[1]?.reply([3, 4]);
    await settle();
    expect(done).toEqual([]);
    sent[0]?.fail(new Error('NOSCRIPT'));
    await settle();
    // The first batch's failure rejects its own calls only; the later ones follow in order.
    expect(done).toEqual([-1, -2, 3, 4, 5]);
  });

  it('runs `alongside` right after its batch is sent, before the replies', async () => {
    const { batch, sent } = batchOf(true);
    const order: string[] = [];
    void batch.add(1, () => order.push(`alongside 1 (${sent.length} sent)`));
    void batch.add(2, () => order.push(`alongside 2 (${sent.length} sent)`));
    await settle();
    expect(order).toEqual(['alongside 1 (1 sent)', 'alongside 2 (1 sent)']);
  });
});
