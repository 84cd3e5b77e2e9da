/**
 * The engine underneath, queried its own way: SQLite's FTS5 full-text index over the same pages, ranked
 * by its built-in BM25 (Porter stemming, the query's words OR-ed, the 200 best, as many as vmem's
 * passage stage takes). vmem keeps its own postings in SQLite instead of FTS5 because its ranking
 * (words, bigrams, sentence windows) is not FTS5's, and this baseline says what that costs.
 */
import { join } from 'node:path';
import { analyze } from '../src/embed/analyzer.js';
import { openDatabase, transaction } from '../src/store/sqlite.js';
import { FsL4 } from '../src/tiers/l4/fs.js';
import { type Latency, latency } from './chroma.js';

const BATCH = 1000;

/** FTS5's query latency on the pages of `dataDir` for `questions`, after asking `warmup` unmeasured. */
export async function fts5Latency(dataDir: string, questions: string[], warmup: string[]): Promise<Latency> {
  const db = openDatabase(join(dataDir, 'fts5-baseline.db'));
  try {
    db.exec("CREATE VIRTUAL TABLE pages USING fts5(text, tokenize = 'porter unicode61')");
    const l4 = await FsL4.open(dataDir);
    const ids = await l4.listPageIds();
    const insert = db.prepare('INSERT INTO pages (text) VALUES (?)');
    for (let i = 0; i < ids.length; i += BATCH) {
      const pages = await l4.getPages(ids.slice(i, i + BATCH));
      transaction(db, () => {
        for (const p of pages) if (p) insert.run(p.text);
      });
    }
    const query = db.prepare('SELECT rowid FROM pages WHERE pages MATCH ? ORDER BY bm25(pages) LIMIT 200');
    // The words vmem's analyzer keeps (stopwords out), unstemmed: FTS5 stems them itself.
    const match = (q: string) =>
      [...new Set(q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])]
        .filter((w) => analyze(w).length)
        .map((w) => `"${w}"`)
        .join(' OR ');
    for (const q of warmup) {
      const m = match(q);
      if (m) query.all(m);
    }
    const ms: number[] = [];
    for (const q of questions) {
      const m = match(q);
      if (!m) continue;
      const t = performance.now();
      query.all(m);
      ms.push(performance.now() - t);
    }
    return latency(ms);
  } finally {
    db.close();
  }
}
