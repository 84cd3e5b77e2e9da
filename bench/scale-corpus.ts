/** What the scale benches build their synthetic stores from, and where. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitSentences } from '../src/core/sentences.js';
import { dataPath } from './data.js';
import type { SquadArticle } from './squad-data.js';

/** Real sentences (SQuAD contexts and essays) for synthetic stores. */
export function sentencePool(articles: SquadArticle[]): string[] {
  const dir = dataPath('pg-essays');
  const essays = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
  return [...articles.map((a) => a.text), ...essays]
    .flatMap((text) => splitSentences(text))
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length > 20 && s.length < 400);
}

/** `n` SQuAD questions spread over the dataset. */
export function spreadQuestions(articles: SquadArticle[], n: number): string[] {
  return spread(articles, n, 0);
}

/**
 * Questions none of spreadQuestions' `n` are, as many, for warming a process before it is measured (its
 * JIT and the OS's file cache), as a server that has answered a few faults is.
 */
export function warmupQuestions(articles: SquadArticle[], n: number): string[] {
  return spread(articles, n, 0.5);
}

function spread(articles: SquadArticle[], n: number, phase: number): string[] {
  const all = articles.flatMap((a) => a.questions.map((q) => q.question));
  const step = Math.floor(all.length / n);
  return all.filter((_, i) => i % step === Math.floor(phase * step)).slice(0, n);
}

/** A directory for a throwaway store: in memory when /dev/shm exists, so the disk does not dominate. */
export function scratchDir(): string {
  try {
    return mkdtempSync('/dev/shm/vmem-bench-');
  } catch {
    return mkdtempSync(join(tmpdir(), 'vmem-bench-'));
  }
}
