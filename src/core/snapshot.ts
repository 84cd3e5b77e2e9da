import { z } from 'zod';

export const SNAPSHOT_VERSION = 1;

/** A page pointer in a snapshot: never the text, only what finds it and proves it unchanged. */
export const snapshotPageSchema = z.object({
  id: z.string().regex(/^p[0-9a-f]{20}$/, 'must be a page id like p0123456789abcdef0123'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64-hex sha256 of the page text'),
  /** Tokens as resident: the page's, or its summary's. */
  tokens: z.number().int().positive(),
  /** Absent: the page in full. */
  resolution: z.enum(['full', 'summary']).optional(),
  pinned: z.boolean().optional(),
});

/** A session's L1 as pointers, least recently used first. */
export const snapshotSchema = z.object({
  version: z.literal(SNAPSHOT_VERSION, { message: `must be ${SNAPSHOT_VERSION}, the snapshot version this server reads` }),
  created_at: z.string(),
  session: z.string().optional(),
  note: z.string().max(2000).optional(),
  pages: z.array(snapshotPageSchema).max(10_000),
});

export type Snapshot = z.infer<typeof snapshotSchema>;
