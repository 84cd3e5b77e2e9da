import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mapBounded } from '../../bounded.js';
import type { Page } from '../../core/page.js';
import { L4UnavailableError } from '../../errors.js';
import { Status, type StatusListener } from '../status.js';
import { assertStorable, checkedId, isValidId, verifiedPage } from './address.js';
import type { L4Store, RecordKind } from './store.js';

/**
 * L4 on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Cloudflare R2, Garage), through the standard S3
 * API only: GetObject, PutObject, HeadObject, ListObjectsV2, DeleteObject and HeadBucket.
 *
 * Layout under the key prefix: `pages/<id>.json` (one page, content-addressed) and `<kind>/<id>.json` for
 * records (snapshots, summaries, manifests). A PUT is atomic on every S3 server, so a write cut short leaves
 * nothing behind, unlike a file, and no temp objects exist.
 *
 * This is the only module that imports `@aws-sdk/client-s3`; it is loaded only when VMEM_L4_URL is s3://….
 *
 * Faults: a request that fails or is not answered in time throws L4UnavailableError (the operator's to fix),
 * and the next request tries the storage again with the same client: nothing of the failure is kept, so vmem
 * resumes by itself when the storage is back. `available()` and `onStatus` report reachability like L2 and L3.
 */

/** Requests in flight at once for a batch: as many as FsL4's writers, well within any server's limits. */
const CONCURRENCY = 16;
/** A request not answered within this long fails (a page is at most a few hundred KB). */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Keys per ListObjectsV2 page: S3's maximum. */
const DEFAULT_LIST_PAGE = 1000;

export interface S3L4Options {
  bucket: string;
  /** Key prefix, without leading or trailing slash; '' for the bucket's root. */
  prefix: string;
  /** An S3-compatible server's URL (path-style addressing); unset for AWS S3. */
  endpoint?: string;
  /** Static credentials (tests); unset: the SDK's default chain (environment, profile, SSO, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Keys per ListObjectsV2 request (1-1000); tests use a few to page. */
  listPageSize?: number;
  /** The setting that names this store, for messages (e.g. "VMEM_L4_URL / --l4-url"). */
  setting?: string;
}

/** How a failed request is read: the object is not there, the storage cannot be reached, or it refused vmem. */
type Failure = 'missing' | 'unreachable' | 'refused';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Errors that mean vmem is configured wrong for this storage (no retry helps; the operator must act). */
const REFUSALS = new Set([
  'AccessDenied',
  'Forbidden',
  'NoSuchBucket',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
  'InvalidBucketName',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
]);

function failureOf(err: unknown): Failure {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchBucket' || (e.name && REFUSALS.has(e.name)) || status === 403) return 'refused';
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return 'missing';
  if (/region is missing/i.test(e.message ?? '')) return 'refused';
  // Connection refused or reset, DNS, timeouts, 5xx, throttling: the storage may come back by itself.
  return 'unreachable';
}

const isMissing = (err: unknown) => failureOf(err) === 'missing';

/** A PUT with `If-None-Match: *` found the key taken (412), or raced another writer of it (409). */
function alreadyStored(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  return (
    e.$metadata?.httpStatusCode === 412 ||
    e.name === 'PreconditionFailed' ||
    e.name === 'ConditionalRequestConflict' ||
    e.$metadata?.httpStatusCode === 409
  );
}

/** The server does not implement conditional PUTs (`If-None-Match` on PutObject). */
function conditionalPutUnsupported(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  return e.$metadata?.httpStatusCode === 501 || e.name === 'NotImplemented';
}

export class S3L4 implements L4Store {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly status = new Status();
  private readonly root: string;
  private readonly timeoutMs: number;
  private readonly listPageSize: number;
  /** Where the store is, for messages: `s3://bucket/prefix` and the endpoint when one is set. */
  readonly where: string;
  private readonly setting: string;
  /** Cleared once a server answers that it does not implement conditional PUTs. */
  private conditionalPuts = true;

  constructor(private readonly options: S3L4Options) {
    this.root = options.prefix ? `${options.prefix}/` : '';
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.listPageSize = options.listPageSize ?? DEFAULT_LIST_PAGE;
    this.setting = options.setting ?? 'the L4 URL';
    this.where = `s3://${options.bucket}/${options.prefix}${options.endpoint ? ` on ${options.endpoint}` : ''}`;
    const endpoint = options.endpoint;
    this.client = new S3Client({
      ...(endpoint && {
        endpoint,
        // S3-compatible servers are addressed by path (http://host/bucket/key): their buckets are not DNS names.
        forcePathStyle: true,
        region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
        // Recent SDKs add CRC32 checksums to every PUT and check them on every GET; not every S3-compatible
        // server accepts or sends them. Pages verify themselves against their content address anyway.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
      ...(options.credentials && { credentials: options.credentials }),
      requestHandler: { connectionTimeout: Math.min(this.timeoutMs, 3000), requestTimeout: this.timeoutMs },
    });
  }

  /**
   * Opens the store and checks the bucket once. A refusal (missing bucket, credentials, permissions, region) is
   * the operator's to fix before vmem can serve: it throws. Unreachable storage is not: vmem starts, reports the
   * outage, serves what L2 holds, and uses the storage once it is back.
   */
  static async open(options: S3L4Options): Promise<S3L4> {
    const store = new S3L4(options);
    try {
      await store.call('check the bucket', (c, o) => c.send(new HeadBucketCommand({ Bucket: options.bucket }), o));
    } catch (err) {
      if (failureOf((err as Error).cause) !== 'unreachable') throw err;
    }
    return store;
  }

  available(): boolean {
    return this.status.up;
  }

  onStatus(listener: StatusListener): () => void {
    return this.status.on(listener);
  }

  close(): void {
    this.status.clear();
    this.client.destroy();
  }

  private pageKey(id: string): string {
    return `${this.root}pages/${checkedId('page', id)}.json`;
  }

  private recordKey(kind: RecordKind, id: string): string {
    return `${this.root}${kind}/${checkedId(kind, id)}.json`;
  }

  /**
   * Sends one request with a deadline. Its failure is an L4UnavailableError saying what vmem was doing and what
   * the operator can do, except for the answers `expected` accepts (a missing object, a key already taken):
   * those give `undefined`.
   */
  private async call<T>(
    what: string,
    send: (client: S3Client, options: { abortSignal: AbortSignal }) => Promise<T>,
    expected: (err: unknown) => boolean = () => false,
  ): Promise<T | undefined> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const out = await send(this.client, { abortSignal: signal });
      this.status.set(true);
      return out;
    } catch (err) {
      if (expected(err)) {
        this.status.set(true);
        return undefined;
      }
      const failure = failureOf(err);
      const cause = signal.aborted ? `no answer within ${this.timeoutMs} ms` : describe(err);
      const error = new L4UnavailableError(
        failure === 'unreachable'
          ? `L4 (${this.where}) is unreachable (${cause}) while trying to ${what}: the object storage must be brought back or ${this.setting} corrected; pages cached in L2 are still served, and vmem uses the storage again as soon as it answers`
          : `L4 (${this.where}) refused to ${what} (${cause}): check that ${this.setting} names an existing bucket and that the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the instance role) may GetObject, PutObject, HeadObject, ListBucket and DeleteObject on it`,
        { cause: err },
      );
      this.status.set(false, error);
      throw error;
    }
  }

  private async getText(key: string, what: string): Promise<string | undefined> {
    const out = await this.call(
      what,
      (c, o) => c.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), o),
      isMissing,
    );
    return out?.Body?.transformToString('utf-8');
  }

  private async exists(key: string, what: string): Promise<boolean> {
    const out = await this.call(
      what,
      (c, o) => c.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }), o),
      isMissing,
    );
    return out !== undefined;
  }

  private async putText(key: string, body: string, what: string): Promise<void> {
    await this.call(what, (c, o) =>
      c.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, ContentType: 'application/json' }),
        o,
      ),
    );
  }

  /**
   * Writes a page unless its key is taken. Pages are immutable: a key once written is never written again.
   * `If-None-Match: *` makes the PUT conditional where the server supports it (AWS since 2024, MinIO, R2), so
   * even two racing writers cannot replace a stored page. Servers that ignore the header (s3rver) get the
   * HEAD before the PUT as their only guard; between the two another writer may store the same key, which is
   * harmless: the key is the content's hash, so what the second PUT writes is the same page.
   */
  private async putPage(page: Page): Promise<void> {
    const key = this.pageKey(page.id);
    const what = `store page ${page.id}`;
    if (await this.exists(key, what)) return;
    const body = JSON.stringify(page);
    let unsupported = false;
    const put = (conditional: boolean) =>
      this.call(
        what,
        (c, o) =>
          c.send(
            new PutObjectCommand({
              Bucket: this.options.bucket,
              Key: key,
              Body: body,
              ContentType: 'application/json',
              ...(conditional && { IfNoneMatch: '*' }),
            }),
            o,
          ),
        (err) => alreadyStored(err) || (conditional && conditionalPutUnsupported(err) && (unsupported = true)),
      );
    await put(this.conditionalPuts);
    if (unsupported) {
      this.conditionalPuts = false;
      await put(false);
    }
  }

  /** Keys under `dir`, one ListObjectsV2 page at a time: a listing never holds more than the page it reads. */
  private async *keys(dir: string, what: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const out = await this.call(what, (c, o) =>
        c.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: dir,
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
          o,
        ),
      );
      for (const o of out?.Contents ?? []) if (o.Key) yield o.Key;
      token = out?.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** The ids of the `.json` objects directly under `dir` (anything else there is not vmem's). */
  private async ids(dir: string, what: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of this.keys(dir, what)) {
      const id = key.slice(dir.length, -'.json'.length);
      if (key.endsWith('.json') && isValidId(id)) ids.push(id);
    }
    return ids;
  }

  async putPages(pages: Page[]): Promise<void> {
    assertStorable(pages);
    await mapBounded(pages, CONCURRENCY, (p) => this.putPage(p));
  }

  async getPages(ids: string[]): Promise<(Page | undefined)[]> {
    const wanted = ids.map((id) => ({ id, key: this.pageKey(id) }));
    return mapBounded(wanted, CONCURRENCY, async ({ id, key }) => {
      const raw = await this.getText(key, `read page ${id}`);
      return raw === undefined ? undefined : verifiedPage(raw, id, `s3://${this.options.bucket}/${key}`);
    });
  }

  async hasPage(id: string): Promise<boolean> {
    return this.exists(this.pageKey(id), `look up page ${id}`);
  }

  async listPageIds(): Promise<string[]> {
    return this.ids(`${this.root}pages/`, 'list the pages');
  }

  async putRecord(kind: RecordKind, id: string, json: string): Promise<void> {
    await this.putText(this.recordKey(kind, id), json, `store ${kind} ${id}`);
  }

  async getRecord(kind: RecordKind, id: string): Promise<string | undefined> {
    return this.getText(this.recordKey(kind, id), `read ${kind} ${id}`);
  }

  async listRecords(kind: RecordKind): Promise<string[]> {
    return this.ids(`${this.root}${kind}/`, `list the ${kind}`);
  }

  /** Removes pages (absent ones are no error: DeleteObject is idempotent). */
  async deletePages(ids: string[]): Promise<void> {
    const keys = ids.map((id) => this.pageKey(id));
    await mapBounded(keys, CONCURRENCY, (key) =>
      this.call(`delete ${key}`, (c, o) =>
        c.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }), o),
      ),
    );
  }

  /** Removes a record (an absent one is no error). */
  async deleteRecord(kind: RecordKind, id: string): Promise<void> {
    const key = this.recordKey(kind, id);
    await this.call(`delete ${kind} ${id}`, (c, o) =>
      c.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }), o),
    );
  }
}

/** An SDK error in one line: its code and message (network errors carry a code such as ECONNREFUSED). */
function describe(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const head = e.code && !e.message?.includes(e.code) ? `${e.code}: ` : '';
  const text = e.message || e.name || String(err);
  return `${head}${text}`.replace(/\s+/g, ' ').trim();
}
