/**
 * L4 on S3-compatible object storage (s3rver in its own process, loopback): load_page of a page that only L4
 * holds against a raw GetObject of the same object on the same server, and page_fault served from L4.
 * Alone: `npm run bench:s3`.
 */
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.js';
import { Pager } from '../src/pager.js';
import { chapters, tempDir } from '../test/helpers.js';
import { S3RVER_CREDENTIALS, startS3 } from '../test/support/s3.js';
import { latencyRow, percentile, table } from './stats.js';

export const S3_TITLE = 'L4 on S3 (ms; s3rver in its own process on loopback, same objects)';
const ROUNDS = 5;
const QUESTIONS = ['whale', 'Ahab', 'harpoon', 'Queequeg', 'sea', 'captain', 'ship', 'Ishmael', 'night', 'voyage'];

export interface S3Bench {
  pages: number;
  rawMs: number[];
  loadMs: number[];
  faultMs: number[];
}

/** Undefined when s3rver cannot start here. */
export async function benchS3(): Promise<S3Bench | undefined> {
  const s3 = await startS3().catch(() => undefined);
  if (!s3) return undefined;
  const { dir, cleanup } = tempDir('vmem-bench-s3-');
  const { prefix, bucket, endpoint } = { ...s3.options(), endpoint: s3.endpoint };
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  // An L2 of one page, visited in turn: every load misses it and reads L4, as a page not read for a while would.
  const pager = await Pager.open(
    loadConfig(
      { '--data-dir': dir, '--l4-url': `s3://${bucket}/${prefix}`, '--s3-endpoint': endpoint, '--l2-max-pages': '1' },
      {},
    ),
  );
  const raw = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
  try {
    await pager.ingest([{ source: 'moby-dick.md', text: chapters(9) }]);
    const ids = pager.table.pages({ limit: pager.table.pageCount }).map((p) => p.id);
    const session = pager.newSession();
    const rawMs: number[] = [];
    const loadMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const id of ids) {
        let t = performance.now();
        const got = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/pages/${id}.json` }));
        await got.Body!.transformToString('utf-8');
        rawMs.push(performance.now() - t);
        t = performance.now();
        const r = await pager.load(session, [id]);
        const ms = performance.now() - t;
        // A page the background summarizer has just read back may still be in L2: only L4 reads count.
        if (r.pages[0]?.level === 'L4') loadMs.push(ms);
        pager.evict(session, 'all');
      }
    }
    const faultMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const q of QUESTIONS) {
        pager.evict(session, 'all');
        const t = performance.now();
        const r = await pager.fault(session, q, { maxPages: 1 });
        if (r.pages[0]?.level === 'L4') faultMs.push(performance.now() - t);
      }
    }
    return { pages: ids.length, rawMs, loadMs, faultMs };
  } finally {
    raw.destroy();
    await pager.close();
    await s3.cleanup();
    cleanup();
  }
}

export function s3Table(b: S3Bench): string {
  const base = percentile(b.rawMs, 50);
  const row = (what: string, v: number[]) => latencyRow(what, v, base);
  return table(
    ['what', 'samples', 'p50', 'p99', 'p50 ratio to raw GetObject'],
    [
      row(`baseline: raw GetObject of the page object (@aws-sdk/client-s3, ${b.pages} pages of ≤2000 tokens)`, b.rawMs),
      row('load_page served from L4 on S3 (GetObject + verify the content address + L1)', b.loadMs),
      row('page_fault served from L4 on S3 (includes L3 ranking)', b.faultMs),
    ],
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const b = await benchS3();
  console.log(
    `## ${S3_TITLE} (alone: \`npm run bench:s3\`)\n\n${b ? s3Table(b) : 's3rver could not start here; skipped.'}`,
  );
}
