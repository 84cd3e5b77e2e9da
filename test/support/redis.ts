/**
 * A throwaway redis-server for tests, and a tiny RESP client for checking what tests left in it
 * (kept here so that src/tiers/l2/redis.ts stays the only importer of ioredis).
 *
 * startRedis(): uses VMEM_TEST_REDIS_URL when set; otherwise starts `redis-server` from PATH on a
 * free loopback port with persistence off. Without redis-server it throws when CI=true (a missing
 * service is a failure there) and returns undefined elsewhere, so the caller can skip visibly.
 */

import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { captureOutput, killChild } from './process.ts';

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  /** True for VMEM_TEST_REDIS_URL: not ours to stop or restart. */
  external: boolean;
  /** The redis-server process we started (undefined when external). */
  pid?: number;
  /** Stops the server this helper started (no-op for an external one); idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Port to bind (e.g. to restart on the same port); default a free one. */
  port?: number;
  /** Ignore VMEM_TEST_REDIS_URL and start a server of our own (for tests that stop it). */
  ownServer?: boolean;
  /**
   * A server fit to hold a shared page table: AOF on (fsync always) and noeviction; always one of our own.
   * With `dir`, its AOF lives there and outlives stop(), so a restart on the same dir reloads it.
   */
  durable?: boolean;
  dir?: string;
}

/** Why startRedis() returned undefined; tests skip with this. */
export const REDIS_MISSING =
  'redis-server not found on PATH (install it, e.g. apt-get install redis-server, or set VMEM_TEST_REDIS_URL)';

export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis | undefined> {
  const external = process.env.VMEM_TEST_REDIS_URL;
  if (external && !options.ownServer && !options.durable) {
    const u = new URL(external);
    return { url: external, host: u.hostname, port: Number(u.port || 6379), external: true, stop: async () => {} };
  }
  const bin = findRedisServer();
  if (!bin) {
    if (process.env.CI === 'true') {
      throw new Error(`CI=true but ${REDIS_MISSING}: the Redis tests cannot run, so this run fails`);
    }
    return undefined;
  }
  // A free port can be taken between freePort() and the bind; retry with another unless one was asked for.
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port ? 1 : 3); attempt++) {
    const port = options.port ?? (await freePort());
    try {
      return await spawnRedis(bin, port, options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function spawnRedis(bin: string, port: number, options: StartRedisOptions): Promise<TestRedis> {
  const host = '127.0.0.1';
  const ownDir = !options.dir;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'vmem-redis-'));
  const persistence = options.durable
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction']
    : ['--appendonly', 'no'];
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', host, '--save', '', ...persistence, '--dir', dir, '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { output, exited } = captureOutput(child);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killChild(child, exited);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  const cleanupOnExit = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', cleanupOnExit);
  exited.then(() => process.removeListener('exit', cleanupOnExit));

  const deadline = Date.now() + 10_000;
  while (true) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`redis-server exited early (port ${port}):\n${output()}`);
    }
    try {
      if ((await command({ host, port }, ['PING'], 500)) === 'PONG') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output()}`);
    }
    await sleep(25);
  }
  return { url: `redis://${host}:${port}`, host, port, external: false, pid: child.pid, stop };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type RespValue = string | number | null | RespValue[];

/**
 * Sends one command over a fresh RESP2 connection and returns its reply (an error reply rejects).
 * `target` is a URL (redis://[:password@]host:port[/db]) or host and port. Test use only.
 */
export async function command(
  target: string | { host: string; port: number },
  args: string[],
  timeoutMs = 2000,
): Promise<RespValue> {
  const preamble: string[][] = [];
  let host: string;
  let port: number;
  if (typeof target === 'string') {
    const u = new URL(target);
    host = u.hostname;
    port = Number(u.port || 6379);
    if (u.password)
      preamble.push(
        u.username
          ? ['AUTH', decodeURIComponent(u.username), decodeURIComponent(u.password)]
          : ['AUTH', decodeURIComponent(u.password)],
      );
    const db = u.pathname.slice(1);
    if (db) preamble.push(['SELECT', db]);
  } else {
    ({ host, port } = target);
  }
  const all = [...preamble, args];
  const replies = await exchange(host, port, all, timeoutMs);
  return replies[replies.length - 1] as RespValue;
}

function encode(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function exchange(host: string, port: number, commands: string[][], timeoutMs: number): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const replies: RespValue[] = [];
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`redis ${host}:${port}: no reply within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(Buffer.concat(commands.map(encode))));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        while (replies.length < commands.length) {
          const parsed = parse(buf, 0);
          if (!parsed) return;
          replies.push(parsed.value);
          buf = buf.subarray(parsed.end);
        }
      } catch (err) {
        fail(err as Error);
        return;
      }
      socket.end();
      resolve(replies);
    });
  });
}

/** Parses one RESP2 value at `at`; undefined when more bytes are needed. */
function parse(buf: Buffer, at: number): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      throw new Error(`redis error reply: ${line}`);
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, pos);
        if (!item) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Deletes every key matching `pattern` (SCAN + DEL); returns how many were deleted. */
export async function deleteKeys(url: string, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const reply = (await command(url, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [string, string[]];
    cursor = reply[0];
    if (reply[1].length) deleted += (await command(url, ['DEL', ...reply[1]])) as number;
  } while (cursor !== '0');
  return deleted;
}
