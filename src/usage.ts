import { parseArgs } from 'node:util';
import { SETTINGS } from './config.js';
import { ConfigError } from './errors.js';
import { VERSION } from './mcp/server.js';

/** The commands: how each is called, what it does, and whether it reads the store's settings. */
const COMMANDS = {
  serve: {
    args: '[--http] [--watch <dir>]',
    about:
      'MCP over stdio (the default command); with --http, Streamable HTTP at http://<host>:<port>/mcp, one session per client; with --watch, keeps a directory ingested as in ingest --watch',
  },
  ingest: {
    args: '<path>... | --watch <dir>',
    about:
      'page files or directories into the store (a changed file supersedes its previous version); with --watch, ingest a directory, then its new and changed files, and forget its deleted ones, until stopped',
  },
  forget: {
    args: '<source or document id>',
    about:
      'remove a source (every version) or a superseded version from every level and every vmem process; pages other documents share stay',
  },
  gc: {
    args: '[--older-than <seconds>]',
    about:
      'collect superseded versions (superseded at least --older-than ago, default 86400) that no unexpired snapshot points into',
  },
  ls: {
    args: '[--after <source>] [--limit <n>]',
    about:
      'the sources the store holds, in order: versions, current document, pages and tokens (100 per call, at most 1000)',
  },
  stats: { args: '', about: 'what the store holds, as JSON' },
  reindex: { args: '', about: 'rebuild the page table and L3 from L4 (stop other vmem processes first)' },
  demo: { args: '', about: 'page a generated 220k-token document through L1–L4 with a real MCP client' },
  help: { args: '[command]', about: "this help, or one command's" },
  version: { args: '', about: 'the version' },
} as const;
export type Command = keyof typeof COMMANDS;
const isCommand = (w: string): w is Command => Object.hasOwn(COMMANDS, w);

const optionLines = (http: boolean) =>
  Object.values(SETTINGS)
    .filter((s) => !!s.http === http)
    .map((s) => `  ${`${s.flag} <v>`.padEnd(27)} ${s.env.padEnd(26)} ${s.doc}`)
    .join('\n');

const commandLine = (c: Command) => `vmem ${c}${COMMANDS[c].args ? ` ${COMMANDS[c].args}` : ''}`;

/** The help text: every command and setting, or one command's usage and the settings it reads. */
export function usage(command?: Command): string {
  const store = `Options (each also an env var; an empty env var is unset):\n${optionLines(false)}`;
  const http = `Options of serve --http:\n${optionLines(true)}`;
  if (!command) {
    const commands = (Object.keys(COMMANDS) as Command[])
      .map((c) => `  ${commandLine(c).padEnd(28)} ${COMMANDS[c].about}`)
      .join('\n');
    return `vmem ${VERSION}: virtual memory for LLM agents, over MCP\n\nUsage:\n${commands}\n  vmem <command> --help        one command's usage\n\n${store}\n\n${http}`;
  }
  const head = `Usage: ${commandLine(command)} [options]\n\n${COMMANDS[command].about}`;
  if (command === 'help' || command === 'version')
    return `Usage: ${commandLine(command)}\n\n${COMMANDS[command].about}`;
  return command === 'serve' ? `${head}\n\n${store}\n\n${http}` : `${head}\n\n${store}`;
}

/**
 * A parsed command line: the command, its words, and settings flags keyed as loadConfig takes them
 * (`--data-dir`). `--help` and `--version` become the commands `help` (its word: the command asked
 * about) and `version`.
 */
export interface CommandLine {
  command: Command;
  words: string[];
  flags: Record<string, string>;
  http: boolean;
  /** Options of one command: serve's and ingest's --watch, gc's --older-than, ls's --after and --limit. */
  options: { watch?: string; olderThan?: string; after?: string; limit?: string };
}

/** The commands each command-specific option applies to. */
const OPTION_COMMANDS = {
  watch: ['serve', 'ingest'],
  'older-than': ['gc'],
  after: ['ls'],
  limit: ['ls'],
} as const satisfies Record<string, readonly Command[]>;

/** A one-line usage mistake that points at the help. */
const usageError = (message: string, command?: Command) =>
  new ConfigError(`${message}; see vmem ${command && command !== 'help' ? `${command} ` : ''}--help`);

/**
 * Parses argv strictly with node:util parseArgs, from the settings table: an unknown flag, a flag
 * without its value, an unknown command or an extra word is a ConfigError naming it.
 */
export function parseCommandLine(argv: string[]): CommandLine {
  const options = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    http: { type: 'boolean' },
    watch: { type: 'string' },
    'older-than': { type: 'string' },
    after: { type: 'string' },
    limit: { type: 'string' },
    ...Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag.slice(2), { type: 'string' }])),
  } as const satisfies NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    // Node's message names the flag; its first sentence, unquoted, is the line the user needs.
    const first = (err as Error).message.split(/\.\s|\n/)[0]!.replace(/'([^']*)'/g, '$1');
    throw usageError(
      first.charAt(0).toLowerCase() + first.slice(1),
      isCommand(argv[0] ?? '') ? (argv[0] as Command) : undefined,
    );
  }
  const {
    help,
    version,
    http,
    watch,
    'older-than': olderThan,
    after,
    limit,
    ...settings
  } = parsed.values as Record<string, string | boolean | undefined>;
  const commandOptions = Object.fromEntries(
    Object.entries({ watch, olderThan, after, limit }).filter(([, v]) => v !== undefined),
  ) as CommandLine['options'];
  const [named, ...words] = parsed.positionals;
  if (named !== undefined && !isCommand(named)) throw usageError(`unknown command ${JSON.stringify(named)}`);
  const flags = Object.fromEntries(Object.entries(settings).map(([k, v]) => [`--${k}`, String(v)]));
  if (help)
    return {
      command: 'help',
      words: named && named !== 'help' ? [named] : words.slice(0, 1),
      flags,
      http: false,
      options: {},
    };
  if (version) return { command: 'version', words: [], flags, http: false, options: {} };
  const command = named ?? 'serve';
  if (http && command !== 'serve') throw usageError('--http applies to vmem serve only', command);
  for (const [name, commands] of Object.entries(OPTION_COMMANDS))
    if (
      parsed.values[name as keyof typeof parsed.values] !== undefined &&
      !(commands as readonly string[]).includes(command)
    )
      throw usageError(`--${name} applies to vmem ${commands.join(' and vmem ')} only`, command);
  if (command === 'ingest' && commandOptions.watch !== undefined && words.length)
    throw usageError('give paths or --watch <dir>, not both', command);
  const extra = command === 'ingest' ? undefined : words[command === 'help' || command === 'forget' ? 1 : 0];
  if (extra !== undefined)
    throw usageError(`unexpected argument ${JSON.stringify(extra)} for vmem ${command}`, command);
  if (command === 'help' && words[0] !== undefined && !isCommand(words[0]))
    throw usageError(`unknown command ${JSON.stringify(words[0])}`);
  return { command, words, flags, http: http === true, options: commandOptions };
}
