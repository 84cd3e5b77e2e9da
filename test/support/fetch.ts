/**
 * Downloads a test may make (the conformance suite with a Node 22 binary, Debian 13's libc for Chroma):
 * only under CI=true or when asked with VMEM_TEST_FETCH=1 (`npm run test:full`), so that `npm test` on a
 * user's machine stays offline and fast. Otherwise the scripts are run with VMEM_NO_FETCH=1, exit with
 * NOT_FETCHED when they would need a download, and the test skips with one line saying so.
 */
export const MAY_FETCH = process.env.CI === 'true' || process.env.VMEM_TEST_FETCH === '1';

/** The environment for a script that may fetch. */
export const fetchEnv = (): NodeJS.ProcessEnv => (MAY_FETCH ? process.env : { ...process.env, VMEM_NO_FETCH: '1' });

/** The scripts' exit status for "a download is needed and was not allowed". */
export const NOT_FETCHED = 3;

/** The skip reason for a test whose script exited with NOT_FETCHED, from the script's own last line. */
export const notFetched = (output: string): string =>
  `${output.trim().split('\n').at(-1)}; \`npm run test:full\` fetches it once (CI=true always does)`;
