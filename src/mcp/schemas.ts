import { z } from 'zod';

/** Output shapes shared by the tools; field names are snake_case like the tool inputs. */
export const pressureOut = z.object({
  used_tokens: z.number().int(),
  budget_tokens: z.number().int(),
  pages: z.number().int(),
});

export const resolutionIn = z.enum(['full', 'summary']).optional();

export const handleOut = z.object({
  page_id: z.string(),
  source: z.string(),
  ordinal: z.number().int(),
  tokens: z.number().int(),
  gist: z.string(),
  summary: z.object({ text: z.string(), tokens: z.number().int() }).optional(),
  reload: z.string(),
});

export const pageOut = z.object({
  page_id: z.string(),
  source: z.string(),
  ordinal: z.number().int(),
  tokens: z.number().int(),
  level: z.enum(['L1', 'L2', 'L3', 'L4']),
  pinned: z.boolean(),
  lines: z.tuple([z.number().int(), z.number().int()]),
  resolution: z.enum(['full', 'summary']),
  score: z.number().optional(),
  text: z.string().optional(),
});

export const pagingOut = {
  pages: z.array(pageOut),
  evicted: z.array(handleOut),
  skipped: z.array(handleOut),
  l1: pressureOut,
};

export const pageIds = z.array(z.string().min(1)).min(1).max(200);
