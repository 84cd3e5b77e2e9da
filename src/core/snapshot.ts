import { z } from 'zod';

export const SNAPSHOT_VERSION = 1;

/** A page pointer in a snapshot: never the text, only what finds it and proves it unchanged. */
export const snapshotPageSchema = z.object({
  id: z
    .string()
    .regex(/^p[0-9a-f]{20}$/, 'must be a page id like p0123456789abcdef0123')
    .describe('Page id: p + 20 hex of its sha256'),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the 64-hex sha256 of the page text')
    .describe('sha256 of the full page text, checked on restore'),
  tokens: z.number().int().positive().describe('Tokens as resident: the page’s, or its summary’s'),
  resolution: z.enum(['full', 'summary']).optional().describe('Absent: the page in full'),
  pinned: z.boolean().optional().describe('Kept from LRU eviction'),
});

/**
 * A session's L1 as pointers, least recently used first: the hand-off format between agents. Never
 * page text: a snapshot restores only in a vmem that shares the store (or a copy of it) holding its pages.
 * Documented as JSON Schema in schemas/snapshot-v1.schema.json (generated from this, checked by a test).
 */
export const snapshotSchema = z
  .object({
    version: z.literal(SNAPSHOT_VERSION, {
      message: `must be ${SNAPSHOT_VERSION}, the snapshot version this server reads`,
    }),
    created_at: z.string().describe('ISO 8601 time the snapshot was made'),
    namespace: z.string().optional().describe('The store namespace (VMEM_NAMESPACE) it was made in'),
    session: z.string().optional().describe('The MCP session whose L1 it holds'),
    note: z.string().max(2000).optional().describe("The agent's note for whoever restores it"),
    expires_at: z.string().optional().describe('ISO 8601 time after which it no longer restores'),
    pages: z.array(snapshotPageSchema).max(10_000).describe('L1, least recently used first'),
  })
  .describe('A vmem context snapshot: the pages of an agent’s L1 as pointers, for another agent to restore');

export type Snapshot = z.infer<typeof snapshotSchema>;

/** The snapshot format as JSON Schema (draft 2020-12), for agents and tools that do not read zod. */
export function snapshotJsonSchema(): Record<string, unknown> {
  return {
    title: 'vmem snapshot, version 1',
    ...z.toJSONSchema(snapshotSchema, { target: 'draft-2020-12' }),
  };
}
