/**
 * A throwaway S3-compatible server for tests and the bench: s3rver (a devDependency) in a child process on a free
 * loopback port, its objects in a temp directory. It can be stopped and started again on the same port with the
 * same objects, as an operator's storage that goes away and comes back.
 *
 * The child runs with --openssl-legacy-provider: s3rver makes ListObjectsV2 continuation tokens with DES, which
 * OpenSSL 3 (Node ≥ 17) keeps only in its legacy provider; without it every truncated listing is a 500.
 *
 * Tests isolate themselves with a random key prefix in the one bucket. Failing to start is a failure under
 * CI=true; elsewhere `startS3` returns undefined with the reason in `S3_MISSING`, so the caller skips visibly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { S3L4Options } from '../../src/tiers/l4/s3.ts';
import { captureOutput, killChild } from './process.ts';

/** s3rver accepts these and only these credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const TEST_BUCKET = 'vmem-test';
const MAIN = join(import.meta.dirname, 's3rver-main.mjs');

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

/** Why startS3() returned undefined; tests skip with this. */
export let S3_MISSING = '';

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  port: number;
}

/** Starts s3rver on `port` (0: a free one) and waits until it listens. */
async function serve(port: number, directory: string): Promise<Running> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', MAIN, String(port), directory, TEST_BUCKET], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, exited } = captureOutput(child);
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  exited.then(() => process.removeListener('exit', onExit));
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /\{"port":(\d+)\}/.exec(output());
      if (m) resolve(Number(m[1]));
    });
    exited.then(() => reject(new Error(`s3rver exited before listening:\n${output()}`)));
    setTimeout(() => reject(new Error(`s3rver did not listen within 10 s:\n${output()}`)), 10_000).unref();
  });
  try {
    return { child, exited, port: await listening };
  } catch (err) {
    await killChild(child, exited);
    throw err;
  }
}

export async function startS3(): Promise<TestS3 | undefined> {
  const directory = fs.mkdtempSync(join(os.tmpdir(), 'vmem-s3rver-'));
  let running: Running | undefined;
  try {
    running = await serve(0, directory);
  } catch (err) {
    fs.rmSync(directory, { recursive: true, force: true });
    S3_MISSING = `s3rver (a devDependency) could not start: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`CI=true but ${S3_MISSING}: the S3 tests cannot run`);
    return undefined;
  }
  const port = running.port;
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (running) await killChild(running.child, running.exited);
    running = undefined;
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
      running = await serve(port, directory);
    },
    cleanup: async () => {
      await stop();
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
