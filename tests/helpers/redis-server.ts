import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` on a random loopback port with its own data directory, and
 * resolves once it accepts connections. `stop()` kills it and removes the directory.
 */
export async function startRedisServer(options: { port?: number; dir?: string; appendOnly?: boolean } = {}): Promise<RedisServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'wagw-redis-')));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendOnly ? 'yes' : 'no', '--maxmemory-policy', 'noeviction'];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await new Promise<boolean>((resolve) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve(true);
        if (output.includes('Address already in use')) resolve(false);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => resolve(false));
      child.once('error', () => resolve(false));
    });
    if (ready) {
      child.stdout.resume();
      child.stderr.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        dir,
        process: child,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGKILL');
            await exited;
          }
          if (!options.dir) await rm(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    if (options.port !== undefined) break;
  }
  throw new Error('redis-server did not start (is it installed? apt-get install -y redis-server)');
}
