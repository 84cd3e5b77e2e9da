/**
 * The contract of every level that may live behind a network (Redis L2, the hybrid L3 on Chroma): its server
 * down at start, lost mid-run and back again. Through all of it no call fails (a read is a miss, a write is
 * dropped or kept locally, a query is answered by what is local), and each change of reachability is
 * reported once: down, up, down, up, not once per retry.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HashingEmbedder } from '../../src/embed/hashing.ts';
import { RedisL2 } from '../../src/tiers/l2/redis.ts';
import { ChromaIndex } from '../../src/tiers/l3/chroma.ts';
import { EmbeddedIndex } from '../../src/tiers/l3/embedded.ts';
import { HybridIndex } from '../../src/tiers/l3/hybrid.ts';
import type { IndexItem } from '../../src/tiers/l3/index.ts';
import { CHROMA_MISSING, startChroma } from '../support/chroma.ts';
import { freePort, REDIS_MISSING, startRedis } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

/** A level under test, opened against a port where its server may or may not run. */
interface Level {
  available(): boolean;
  /** A few of the level's calls; each must resolve whether or not its server is reachable. */
  exercise(): Promise<void>;
  close(): Promise<void>;
}

interface NetworkedHarness {
  /** Starts the level's server on `port` (again, after a stop); undefined when it cannot run here. */
  start(port: number): Promise<{ stop(): Promise<void> } | undefined>;
  /** Why the server cannot run here, once `start` returned undefined. */
  missing(): string;
  open(port: number, onStatus: (up: boolean, err?: Error) => void): Promise<Level>;
  cleanup?(): Promise<void>;
}

const RECONNECT_MS = 20_000;

function networkedContract(name: string, make: () => NetworkedHarness): void {
  describe(`networked level: ${name}`, () => {
    test('down at start, lost mid-run, back: one status change each way, no call fails', {
      timeout: 120_000,
    }, async (t) => {
      const h = make();
      t.after(() => h.cleanup?.());
      const port = await freePort();
      const statuses: boolean[] = [];
      const downErrors: unknown[] = [];
      const level = await h.open(port, (up, err) => {
        statuses.push(up);
        if (!up) downErrors.push(err);
      });
      let server: { stop(): Promise<void> } | undefined;
      t.after(async () => {
        await level.close();
        await server?.stop();
      });

      assert.equal(level.available(), false);
      await level.exercise();
      await level.exercise();
      assert.deepEqual(statuses, [false], 'down at start: reported once, not per attempt');

      server = await h.start(port);
      if (!server) return t.skip(h.missing());
      await waitFor(() => level.available(), `${name} to connect once its server is up`, { timeoutMs: RECONNECT_MS });
      await level.exercise();
      assert.deepEqual(statuses, [false, true]);

      await server.stop();
      // Calls go on; one of them (or the client itself) notices the loss.
      await waitFor(
        async () => {
          await level.exercise();
          return !level.available();
        },
        `${name} to notice its server is gone`,
        { timeoutMs: RECONNECT_MS },
      );
      await level.exercise();
      assert.deepEqual(statuses, [false, true, false], 'the loss is reported once');

      server = await h.start(port);
      assert.ok(server);
      await waitFor(() => level.available(), `${name} to reconnect by itself`, { timeoutMs: RECONNECT_MS });
      await level.exercise();
      assert.deepEqual(statuses, [false, true, false, true], 'the recovery is reported once');
      assert.ok(downErrors[0] instanceof Error, 'down at start: the event carries the error that caused it');
    });
  });
}

networkedContract('Redis L2', () => ({
  start: (port) => startRedis({ ownServer: true, port }),
  missing: () => `${REDIS_MISSING} (this test starts and stops its own server)`,
  async open(port, onStatus) {
    const store = await RedisL2.open(`redis://127.0.0.1:${port}`, {
      prefix: `vmem-test-${randomUUID()}:`,
      maxReconnectDelayMs: 500,
      onStatus,
    });
    return {
      available: () => store.available(),
      async exercise() {
        await store.setMany([{ id: 'a', value: 'x' }], 60);
        const [got] = await store.getMany(['a', 'b'], 60);
        assert.ok(got === undefined || got === 'x');
        await store.hasMany(['a']);
      },
      close: () => store.close(),
    };
  },
}));

networkedContract('hybrid L3 (embedded lexical + Chroma)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-networked-'));
  const chromaDir = join(dir, 'chroma');
  const item = (n: number): IndexItem => {
    const text = `Pump station ${n} was serviced in ${1990 + n} with maintenance code K${n}.`;
    const id = `p${String(n).padStart(19, '0')}`;
    const meta = { id, sha256: id, tokens: 12, documentId: 'd', source: 'a.md', ordinal: n } as IndexItem['meta'];
    return { meta: { ...meta, charStart: 0, charEnd: text.length, lineStart: 1, lineEnd: 1 }, text };
  };
  const items = new Map<string, IndexItem>();
  let n = 0;
  return {
    start: (port) => startChroma({ ownServer: true, dataDir: chromaDir, port }),
    missing: () => CHROMA_MISSING,
    async open(port, onStatus) {
      const embedder = new HashingEmbedder();
      const index = await HybridIndex.open(
        {
          lexical: await EmbeddedIndex.open(join(dir, 'embedded.jsonl')),
          connect: () =>
            ChromaIndex.open({ url: `http://127.0.0.1:${port}`, collection: `vmem-test-${randomUUID()}`, embedder }),
          texts: async (ids) => ids.map(({ pageId }) => items.get(pageId)!).filter(Boolean),
          retryMs: 200,
          timeoutMs: 2000,
        },
        onStatus,
      );
      return {
        available: () => index.available(),
        async exercise() {
          const it = item(n++);
          items.set(it.meta.id, it);
          await index.upsert([it]);
          await index.flush();
          const [hit] = await index.query(`maintenance code K${n - 1}`, 1);
          assert.equal(hit?.pageId, it.meta.id, 'a page just indexed is found, whatever the server does');
        },
        close: () => index.close(),
      };
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
