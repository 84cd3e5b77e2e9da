/**
 * A throwaway S3-compatible server for tests and the bench: s3rver (a devDependency) in this process, on a free
 * loopback port, its objects in a temp directory. It can be stopped and started again on the same port with the
 * same objects, as an operator's storage that goes away and comes back.
 *
 * Tests isolate themselves with a random key prefix in the one bucket. Failing to start is a failure under
 * CI=true; elsewhere `startS3` returns undefined with the reason in `S3_MISSING`, so the caller skips visibly.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { S3L4Options } from '../../src/tiers/l4/s3.ts';

/** s3rver accepts these and only these credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const TEST_BUCKET = 'vmem-test';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Options of an S3L4 on a fresh, random prefix of the bucket. */
  options(extra?: Partial<S3L4Options>): S3L4Options;
  /** Stops the server (objects kept); idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the objects it had. */
  restart(): Promise<void>;
  /** Stops it and removes its objects. */
  cleanup(): Promise<void>;
}

export let S3_MISSING = '';

interface Server {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

export async function startS3(): Promise<TestS3 | undefined> {
  const directory = fs.mkdtempSync(join(os.tmpdir(), 'vmem-s3rver-'));
  let S3rver: new (o: Record<string, unknown>) => Server;
  try {
    S3rver = (await import('s3rver')).default as unknown as typeof S3rver;
  } catch (err) {
    fs.rmSync(directory, { recursive: true, force: true });
    S3_MISSING = `s3rver could not be loaded (${(err as Error).message}); npm install it (a devDependency)`;
    if (process.env.CI === 'true') throw new Error(`CI=true but ${S3_MISSING}: the S3 tests cannot run`);
    return undefined;
  }
  const serve = async (port: number) => {
    const server = new S3rver({
      address: '127.0.0.1',
      port,
      directory,
      silent: true,
      configureBuckets: [{ name: TEST_BUCKET, configs: [] }],
    });
    const address = await server.run();
    return { server, port: address.port };
  };
  let { server, port } = await serve(0);
  let running = true;
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!running) return;
    running = false;
    await server.close();
  };
  return {
    endpoint,
    bucket: TEST_BUCKET,
    options: (extra = {}) => ({
      bucket: TEST_BUCKET,
      prefix: `t-${randomUUID()}`,
      endpoint,
      credentials: S3RVER_CREDENTIALS,
      ...extra,
    }),
    stop,
    restart: async () => {
      await stop();
      ({ server, port } = await serve(port));
      running = true;
    },
    cleanup: async () => {
      await stop();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
