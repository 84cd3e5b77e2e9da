import { z } from 'zod';
import type { DocumentEntry } from './page-table.js';

/**
 * The documents one ingest batch recorded, kept in L4 beside their pages (written after the pages, before
 * the page table records them), so that the page table's documents can be rebuilt from L4 alone: pages are
 * shared between documents, so a page's own origin cannot say which documents hold it, or in what order.
 */
export interface Manifest {
  version: 1;
  documents: DocumentEntry[];
  /**
   * Documents that left the store (forgotten, or collected as superseded versions) by the time this was
   * written: a rebuild leaves them out, unless a later manifest lists them again (ingested anew).
   */
  removed?: string[];
}

const manifestSchema = z.object({
  version: z.literal(1),
  documents: z.array(
    z.object({
      id: z.string(),
      source: z.string(),
      tokens: z.number(),
      bytes: z.number(),
      pageIds: z.array(z.string()),
      ingestedAt: z.number(),
    }),
  ),
  removed: z.array(z.string()).optional(),
});

/** A stored manifest, or undefined if it is not a manifest this vmem reads. */
export function parseManifest(json: string): Manifest | undefined {
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

let written = 0;

/**
 * A new manifest's id. Ids sort in the order manifests were written (by time, then by a counter within a
 * process), so documents come back in the order the page table recorded them; the random tail keeps
 * processes writing in the same millisecond apart.
 */
export function manifestId(at: number, random: string): string {
  return `m${String(Math.max(0, Math.floor(at))).padStart(15, '0')}${String(written++ % 1e8).padStart(8, '0')}${random}`;
}
