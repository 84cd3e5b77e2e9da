/**
 * Every error vmem raises on purpose, each with its audience: who can fix it. The CLI and the tool results
 * switch on the audience, never on the class:
 * - `caller`: the MCP client or the command line got an argument wrong. The message names the field and the
 *   fix; a tool returns it as an error the model can read, the CLI prints it as one line (exit 2).
 * - `operator`: whoever runs vmem must act (a setting, the data dir, a damaged or incomplete store, an index
 *   built by another embedder). Not the caller's fault; the CLI prints one line (exit 2), a tool says so.
 * - `vmem`: a bug or a failure vmem handles itself (a compressor that failed is retried). Any error that is
 *   none of these classes (an I/O error, a TypeError) has this audience too: logged with its stack.
 */
export type Audience = 'caller' | 'operator' | 'vmem';

/** An error raised on purpose, for its audience. */
export abstract class VmemError extends Error {
  abstract readonly audience: Audience;
}

/** Who can fix `err`. */
export function audienceOf(err: unknown): Audience {
  return err instanceof VmemError ? err.audience : 'vmem';
}

/** The caller's to fix: its message names the field and the fix. */
export class InputError extends VmemError {
  readonly audience = 'caller';
  override name = 'InputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/**
 * A problem the operator fixes (a bad setting, flag or command line, an unusable data dir or port): the CLI
 * prints its message as one line, without a stack, and exits 2.
 */
export class ConfigError extends VmemError {
  readonly audience = 'operator';
  override name = 'ConfigError';
}

/** The L3 index on disk was built by another embedder: `vmem reindex` rebuilds it. */
export class EmbedderMismatchError extends VmemError {
  readonly audience = 'operator';
  override name = 'EmbedderMismatchError';
}

/** A page file in L4 does not match its content address: restore it from a backup, or re-ingest its source. */
export class CorruptPageError extends VmemError {
  readonly audience = 'operator';
  override name = 'CorruptPageError';
}

/** The page table knows a page that L4 does not hold (a store copied in part, or files removed): re-ingest. */
export class MissingPageError extends VmemError {
  readonly audience = 'operator';
  override name = 'MissingPageError';
}

/**
 * L4 (the object storage holding the pages) did not answer, or refused vmem (credentials, permissions, a
 * missing bucket): pages cached in L2 are still served, everything else waits for the operator to restore
 * it. Nothing is cached of the failure: the next request tries the storage again.
 */
export class L4UnavailableError extends VmemError {
  readonly audience = 'operator';
  override name = 'L4UnavailableError';
}

/**
 * The shared page table (a Redis every node follows, VMEM_CATALOG_URL) did not answer: what this node already
 * knows is still served, changes wait for the operator to restore it. The next request tries again.
 */
export class PageTableUnavailableError extends VmemError {
  readonly audience = 'operator';
  override name = 'PageTableUnavailableError';
}

/** A compressor that could not compress a page this time; `retryable` false means it never will (e.g. no sampling support). */
export class CompressionError extends VmemError {
  readonly audience = 'vmem';
  override name = 'CompressionError';
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
  }
}

/**
 * The embeddings endpoint failed or answered something unusable (a wrong count, a non-number): L3 ranks
 * lexically meanwhile and retries; the message names the endpoint, never the key.
 */
export class EmbeddingError extends VmemError {
  readonly audience = 'vmem';
  override name = 'EmbeddingError';
}

/** vmem broke its own invariant (e.g. it built a snapshot its own schema refuses): a bug to report. */
export class InternalError extends VmemError {
  readonly audience = 'vmem';
  override name = 'InternalError';
}
