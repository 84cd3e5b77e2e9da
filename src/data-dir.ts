import { join } from 'node:path';
import type { RecordKind } from './tiers/l4/store.js';

/**
 * The data dir's layout, named once. L4 (the source of truth) is `pages/` and one directory per record kind;
 * everything else is derived from it (reindex rebuilds it) or transient:
 *
 *   pages/<id[1..3]>/<id>.json   L4: one file per page, fanned out by id
 *   manifests/ snapshots/ summaries/ <id>.json   L4 records
 *   catalog.db                   the page table (SQLite, WAL), shared by processes      (derived)
 *   catalog-replica.db           this node's copy of a page table shared over the network (derived)
 *   catalog.jsonl.migrated       its log before catalog.db, kept once imported
 *   l3/lexical.db                the embedded L3 index (SQLite, WAL), shared by processes (derived)
 *   l3/embedded.jsonl.migrated   its log before lexical.db, kept once imported
 *   claims/<page id>             locks of pages being summarized
 *   tmp/                         temp files of writes in flight (on the same filesystem)
 */
export function dataDirLayout(dataDir: string) {
  return {
    root: dataDir,
    pages: join(dataDir, 'pages'),
    /** A page's file; `id` is a page id (checked by L4, which alone reads and writes it). */
    page: (id: string) => join(dataDir, 'pages', id.slice(1, 3), `${id}.json`),
    records: (kind: RecordKind) => join(dataDir, kind),
    record: (kind: RecordKind, id: string) => join(dataDir, kind, `${id}.json`),
    catalog: join(dataDir, CATALOG_FILE),
    /** This node's copy of the page table shared through VMEM_CATALOG_URL. */
    replica: join(dataDir, REPLICA_FILE),
    /** The page table's log as vmem wrote it before catalog.db: imported into it at the first open. */
    legacyCatalog: join(dataDir, LEGACY_CATALOG_FILE),
    lexicalIndex: join(dataDir, 'l3', LEXICAL_FILE),
    /** The L3 index's log as vmem wrote it before lexical.db: imported into it at the first open. */
    legacyLexicalIndex: join(dataDir, 'l3', 'embedded.jsonl'),
    claims: join(dataDir, 'claims'),
    tmp: join(dataDir, 'tmp'),
    /** Files derived from L4, which reindex sets aside (with a database's -wal and -shm) and rebuilds. */
    derived: [
      join(dataDir, CATALOG_FILE),
      join(dataDir, REPLICA_FILE),
      join(dataDir, 'l3', LEXICAL_FILE),
      join(dataDir, 'l3', 'embedded.jsonl'),
    ],
  };
}

/** The page table's database, by name (messages name it). */
export const CATALOG_FILE = 'catalog.db';
/** A node's copy of the shared page table (VMEM_CATALOG_URL). */
export const REPLICA_FILE = 'catalog-replica.db';
/** The page table's append-only log before catalog.db; renamed `catalog.jsonl.migrated` once imported. */
export const LEGACY_CATALOG_FILE = 'catalog.jsonl';
/** The embedded L3 index's SQLite file, in `l3/`. */
const LEXICAL_FILE = 'lexical.db';
