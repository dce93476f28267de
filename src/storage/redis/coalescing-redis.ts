import { Redis } from 'ioredis';

type Sent = Parameters<Redis['sendCommand']>;
type Socket = Redis['stream'];

/** ioredis types its socket to be always there; it is not, until the first connect. */
function socketOf(redis: Redis): Socket | undefined {
  return redis.stream;
}

/**
 * An ioredis connection that writes the commands of one tick to its socket together: the first
 * command of a tick corks the socket and a `process.nextTick` uncorks it, so everything sent from
 * the same callback and the microtasks it runs (a reply chunk resolves many commands at once, and
 * each continuation sends its next one) leaves in one `writev` instead of one `write` syscall per
 * command — the same thing Node's HTTP server does for a response.
 *
 * Without it, a plain connection spends a syscall per command: in P2 (docs/benchmarks.md §13)
 * the socket writes of the worker and store connections were 30 % of the gateway's CPU. ioredis'
 * own auto-pipelining batches too, but with a Map and a Set per flush that keep commands alive
 * through scavenges (see `openRedis`); this keeps one field per connection and allocates nothing
 * per command. Replies, order and errors are ioredis' own: only when the bytes leave changes.
 */
export class CoalescingRedis extends Redis {
  private corked: Socket | null = null;

  private readonly uncork = (): void => {
    const socket = this.corked;
    this.corked = null;
    socket?.uncork();
  };

  override sendCommand(command: Sent[0], stream?: Sent[1]): unknown {
    // A pipeline passes its own buffer as `stream` and writes it once: nothing to coalesce there.
    if (this.corked === null && stream === undefined) {
      const socket = socketOf(this);
      if (socket !== undefined && socket.writable) {
        this.corked = socket;
        socket.cork();
        process.nextTick(this.uncork);
      }
    }
    return super.sendCommand(command, stream);
  }
}
