import type { Config } from '../config.js';
import { planAdmission } from '../core/admission.js';
import { sha256 } from '../core/hash.js';
import type { Level } from '../core/page.js';
import { droppedText } from '../core/page-table.js';
import { SNAPSHOT_VERSION, type Snapshot, snapshotSchema } from '../core/snapshot.js';
import { InputError, InternalError } from '../errors.js';
import type { Session } from '../session.js';
import type { L4Store } from '../tiers/l4/store.js';
import type { PagingLevels } from './paging.js';
import type { PageText } from './read-path.js';
import { handleIn, type PagingResult, pressureOf, type ServedPage, servedPage } from './views.js';

/** What snapshots read and record: what paging does, and L4, where snapshots are stored. */
export type SnapshotLevels = Omit<PagingLevels, 'config' | 'l3' | 'resend'> & {
  config: Pick<Config, 'namespace'>;
  l4: L4Store;
};

/** Snapshots of a session's L1: serialized as pointers and hashes, stored in L4, verified before a restore. */
export class Snapshots {
  constructor(private readonly levels: SnapshotLevels) {}

  /** Stores a snapshot of the session's L1 (pointers and hashes, least recently used first) under a content id. */
  async serialize(
    session: Session,
    note?: string,
    expiresInSeconds?: number,
  ): Promise<{ snapshotId: string; snapshot: Snapshot; pageTokens: number }> {
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      created_at: new Date(this.levels.now()).toISOString(),
      namespace: this.levels.config.namespace,
      session: session.id,
      ...(note ? { note } : {}),
      ...(expiresInSeconds ? { expires_at: new Date(this.levels.now() + expiresInSeconds * 1000).toISOString() } : {}),
      pages: session.l1.list().map((r) => ({
        id: r.pageId,
        sha256: this.levels.table.get(r.pageId)!.sha256,
        tokens: r.tokens,
        ...(r.resolution === 'summary' ? { resolution: 'summary' as const } : {}),
        ...(r.pinned ? { pinned: true } : {}),
      })),
    };
    const parsed = snapshotSchema.safeParse(snapshot);
    if (!parsed.success)
      throw new InternalError(`serialize built a snapshot its schema refuses: ${parsed.error.message}`);
    const json = JSON.stringify(snapshot);
    const snapshotId = `s${sha256(json).slice(0, 20)}`;
    await this.levels.l4.putRecord('snapshots', snapshotId, json);
    return { snapshotId, snapshot, pageTokens: snapshot.pages.reduce((n, p) => n + p.tokens, 0) };
  }

  /** A stored snapshot, or undefined. */
  async get(snapshotId: string): Promise<Snapshot | undefined> {
    if (!/^s[0-9a-f]{20}$/.test(snapshotId)) return undefined;
    const raw = await this.levels.l4.getRecord('snapshots', snapshotId);
    return raw === undefined ? undefined : snapshotSchema.parse(JSON.parse(raw));
  }

  async list(): Promise<string[]> {
    return this.levels.l4.listRecords('snapshots');
  }

  /**
   * Replaces the session's L1 with the snapshot's pages, verifying every hash first: a snapshot
   * that does not verify changes nothing. If the budget is smaller than the snapshot, the most
   * recently used pages are restored and the rest come back as handles.
   */
  async restore(
    session: Session,
    from: { snapshotId?: string; snapshot?: unknown },
  ): Promise<PagingResult & { snapshotId?: string }> {
    const snapshot = await this.read(from);
    const texts = await this.verify(snapshot);

    // L1 is replaced: every resident leaves, pinned or not.
    const evicted = session.l1.list().map((r) => {
      session.l1.remove(r.pageId);
      return handleIn(this.levels.table, r.pageId);
    });
    this.levels.evicted(evicted.map((h) => h.pageId));
    // The most recently used pages that fit, each at its snapshot resolution (a page listed twice counts where it
    // was used last), admitted oldest first so the LRU order is the snapshot's.
    const latest = new Map<string, Snapshot['pages'][number]>();
    for (const p of [...snapshot.pages].reverse()) if (!latest.has(p.id)) latest.set(p.id, p);
    const plan = planAdmission({
      residents: [],
      entries: [...latest.values()].map((p) => ({
        id: p.id,
        tokens: p.tokens,
        summaryTokens: p.tokens,
        fixed: p.resolution ?? 'full',
      })),
      budget: session.l1.budget,
      maxTokens: session.l1.budget,
      resolution: 'full',
      resend: true,
    });
    const pages: ServedPage[] = [];
    for (const step of plan.steps) {
      if (step.kind !== 'admit') continue;
      const p = latest.get(step.id)!;
      const entry = this.levels.table.get(p.id)!;
      const got = texts.get(p.id) ?? { text: entry.summary!.text, level: 'L4' as Level };
      session.l1.admit({
        pageId: p.id,
        tokens: p.tokens,
        pinned: p.pinned ?? false,
        resolution: step.resolution,
        text: got.text,
      });
      session.l1.markSent(p.id, this.levels.now());
      pages.push(servedPage(entry, got.level, p.pinned ?? false, got.text, step.resolution));
      this.levels.catalog.recordAccess(p.id, this.levels.now(), true);
    }
    const skipped = plan.skip.reverse().map((id) => handleIn(this.levels.table, id));
    session.changed();
    return { snapshotId: from.snapshotId, pages, evicted, skipped, l1: pressureOf(session) };
  }

  /** The snapshot `from` names (a stored id) or holds (an object or its JSON), checked against the schema and its expiry. */
  private async read(from: { snapshotId?: string; snapshot?: unknown }): Promise<Snapshot> {
    let snapshot: Snapshot;
    if (from.snapshotId !== undefined) {
      const found = await this.get(from.snapshotId);
      if (!found)
        throw new InputError(
          'snapshot_id',
          `no snapshot ${JSON.stringify(from.snapshotId)}; use an id returned by serialize_context or listed under vmem://snapshots/`,
        );
      snapshot = found;
    } else if (from.snapshot !== undefined) {
      let candidate = from.snapshot;
      if (typeof candidate === 'string') {
        try {
          candidate = JSON.parse(candidate);
        } catch {
          throw new InputError('snapshot', 'is not valid JSON; pass the snapshot object serialize_context returned');
        }
      }
      const parsed = snapshotSchema.safeParse(candidate);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const at = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
        throw new InputError(`snapshot${at}`, `${issue.message}; pass the snapshot object serialize_context returned`);
      }
      snapshot = parsed.data;
    } else {
      throw new InputError('snapshot_id', 'give snapshot_id or snapshot');
    }
    if (snapshot.expires_at && Date.parse(snapshot.expires_at) <= this.levels.now()) {
      throw new InputError(
        from.snapshotId !== undefined ? 'snapshot_id' : 'snapshot.expires_at',
        `the snapshot expired at ${snapshot.expires_at}; nothing was restored`,
      );
    }
    return snapshot;
  }

  /**
   * Checks every page against the page table (known, same hash, same tokens at its resolution, the summary there) and
   * reads and hashes again the full pages: the snapshot restores exactly the bytes it points at. Returns their texts.
   */
  private async verify(snapshot: Snapshot): Promise<Map<string, PageText>> {
    snapshot.pages.forEach((p, i) => {
      const e = this.levels.table.get(p.id);
      const gone = e ? undefined : this.levels.table.dropped(p.id);
      if (gone)
        throw new InputError(
          `snapshot.pages[${i}].id`,
          `${droppedText(gone)}; nothing was restored; serialize a new snapshot without it`,
        );
      if (!e)
        throw new InputError(
          `snapshot.pages[${i}].id`,
          `unknown page ${p.id}: this store never ingested it; restore into a vmem that shares the snapshot's store`,
        );
      if (p.resolution === 'summary' && !e.summary) {
        throw new InputError(
          `snapshot.pages[${i}].resolution`,
          `is summary, but page ${p.id} has no summary in this store; nothing was restored`,
        );
      }
      // Sizes come from the page table, never from the snapshot: a forged size must not overfill L1.
      const tokens = p.resolution === 'summary' ? e.summary!.tokens : e.tokens;
      if (tokens !== p.tokens)
        throw new InputError(
          `snapshot.pages[${i}].tokens`,
          `is ${p.tokens}, but page ${p.id} has ${tokens} tokens at this resolution; the snapshot was altered; nothing was restored`,
        );
      if (e.sha256 !== p.sha256) {
        throw new InputError(
          `snapshot.pages[${i}].sha256`,
          `does not match page ${p.id}: the snapshot was altered or points at other content; nothing was restored`,
        );
      }
    });
    // Full pages are read and hashed again: the snapshot restores exactly the bytes it points at.
    const full = snapshot.pages.filter((p) => p.resolution !== 'summary');
    const fetched = await this.levels.read.require(
      full.map((p) => p.id),
      'snapshot.pages',
    );
    const texts = new Map(full.map((p, i) => [p.id, fetched[i]!]));
    snapshot.pages.forEach((p, i) => {
      const got = texts.get(p.id);
      if (got && sha256(got.text) !== p.sha256) {
        throw new InputError(
          `snapshot.pages[${i}].sha256`,
          `does not match page ${p.id}: the snapshot was altered or points at other content; nothing was restored`,
        );
      }
    });
    return texts;
  }
}
