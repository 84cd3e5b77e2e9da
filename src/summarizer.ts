import { EventEmitter } from 'node:events';
import PQueue from 'p-queue';
import { Retries, type Timers } from './backoff.js';
import { type Locks, lockNames, type Release } from './cluster/locks.js';
import type { Compressor } from './compress/compressor.js';
import type { PageSummary } from './core/page-table.js';
import type { Tokenizer } from './core/tokenizer.js';
import { waitAtMost } from './deadline.js';
import { CompressionError } from './errors.js';

/** What the summarizer needs from the store; the pager provides it. */
export interface SummaryStore {
  /** The page's text, or undefined when the page is unknown. */
  text(pageId: string): Promise<string | undefined>;
  /** True when this page already has a summary, here or made by another process. */
  summarized(pageId: string): Promise<boolean>;
  /** Stores a summary durably, indexes it, and records it in the page table. */
  save(pageId: string, summary: PageSummary): Promise<void>;
}

export interface SummarizerOptions {
  compressor: Compressor;
  /** Used when `compressor` can never summarize a page (e.g. the host refuses sampling). */
  fallback?: Compressor;
  tokenizer: Tokenizer;
  /** Page tokens per summary token. */
  ratio: number;
  /** Pages compressed at once. */
  concurrency: number;
  /** Where claims live (the data dir's files, or the shared Redis), so that processes sharing the store never compress the same page twice. */
  claims: Locks;
  /** Pages waiting at most; past it new requests are dropped (the page is asked for again at its next eviction). */
  maxQueued?: number;
  /** First retry delay after a failure; doubles per failure of the same page, up to an hour. */
  retryMs?: number;
  /** When retries run: the system's timers unless a test brings its own clock. */
  timers?: Timers;
}

/**
 * A claim older than this is taken over even if its holder may be alive (a pid reused, a holder on another
 * host): longer than any compression with its retries, since a claim file is not renewed. A claim whose holder is
 * gone from this host is taken over at once; on Redis, where a live holder renews it, a crashed holder's claim
 * lapses after this long (the page is summarized at a later eviction meanwhile, nothing waits for it).
 */
const STALE_CLAIM_MS = 10 * 60_000;

/**
 * Compresses pages in the background, off the hot path: `enqueue` returns at once; a bounded queue
 * (p-queue) feeds a few workers. A page is compressed once, across sessions (the queue and the page table) and
 * processes (a claim per page, see cluster/locks.ts, and the stored summary). A failure leaves the page
 * uncompressed and schedules a retry with exponential backoff; nothing is lost either way.
 * Emits 'summarized' (pageId) and 'failed' (pageId, error).
 */
export class Summarizer extends EventEmitter {
  private readonly queue: PQueue;
  /** Pages queued or in work. */
  private readonly pending = new Set<string>();
  /** Pages waiting for their retry (an eviction meanwhile does not bring it forward), with their backoff. */
  private readonly retries: Retries;
  /** No new requests once closing. */
  private closing = false;

  constructor(
    private readonly store: SummaryStore,
    private readonly opts: SummarizerOptions,
  ) {
    super();
    this.queue = new PQueue({ concurrency: opts.concurrency });
    this.retries = new Retries({ initialMs: opts.retryMs ?? 60_000, maxMs: 3_600_000 }, opts.timers);
  }

  /** Asks for summaries of pages; returns at once. Pages already summarized, queued or in work are skipped. */
  enqueue(pageIds: string[]): void {
    for (const id of pageIds) {
      if (
        this.closing ||
        this.pending.has(id) ||
        this.retries.pending(id) ||
        this.queue.size >= (this.opts.maxQueued ?? 1000)
      )
        continue;
      this.pending.add(id);
      void this.queue.add(() => this.work(id).finally(() => this.pending.delete(id)));
    }
  }

  /** Resolves when nothing is queued or in work (retries scheduled for later do not count). */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  /**
   * Stops taking requests and cancels scheduled retries; the queue is worked off for up to `drainMs`,
   * then what is left is dropped (those pages get their summary at a later eviction).
   */
  async close(drainMs = 5000): Promise<void> {
    this.closing = true;
    this.retries.cancel();
    await waitAtMost(this.idle(), drainMs);
    // What is still queued is dropped (its add() never settles); what is in work is waited for.
    this.queue.clear();
    this.pending.clear();
    await this.idle();
  }

  private async work(id: string): Promise<void> {
    try {
      if (await this.store.summarized(id)) return;
      const release = await this.claim(id);
      if (!release) return; // another process is on it
      try {
        if (await this.store.summarized(id)) return;
        const text = await this.store.text(id);
        if (text === undefined) return;
        const summary = await this.summarize(text);
        await this.store.save(id, summary);
        this.retries.succeeded(id);
        this.emit('summarized', id);
      } finally {
        await release();
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.emit('failed', id, error);
      if (!(err instanceof CompressionError) || err.retryable) this.retryLater(id);
    }
  }

  private async summarize(text: string): Promise<PageSummary> {
    const pageTokens = this.opts.tokenizer.count(text);
    const target = Math.max(1, Math.round(pageTokens / this.opts.ratio));
    let by = this.opts.compressor;
    let summary: string;
    try {
      summary = await by.compress(text, target);
    } catch (err) {
      if (!(err instanceof CompressionError) || err.retryable || !this.opts.fallback) throw err;
      by = this.opts.fallback;
      summary = await by.compress(text, target);
    }
    return { text: summary, tokens: this.opts.tokenizer.count(summary), by: by.name, at: Date.now() };
  }

  private retryLater(id: string): void {
    if (!this.closing) this.retries.failed(id, () => this.enqueue([id]));
  }

  /** Claims the page for this process (a lock held for the compression, tried without waiting); undefined when another holds it. */
  private claim(id: string): Promise<Release | undefined> {
    return this.opts.claims.tryClaim(lockNames.claim(id), STALE_CLAIM_MS);
  }
}
