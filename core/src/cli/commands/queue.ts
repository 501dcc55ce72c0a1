import { loadDataDir } from '../../config/load-config.js';
import { deleteMessages, holdMessages, listQueue, retryMessages, showMessage, spoolDirOf, summarise } from '../../queue/queue-admin.js';
import type { QueueSelector } from '../../queue/queue-store.js';
import { SqliteQueueStore } from '../../queue/sqlite-queue-store.js';
import { openDatabase } from '../../store/database.js';
import { configPath, formatSize, parse, positionals, usageError } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { formatFields, formatTable } from '../table.js';

const help = `Usage:
  postern queue list [--json]              messages waiting: id, sender, recipients, size, age, attempts, last error
  postern queue show ID [--json]           one message, every recipient with its status and last reply
  postern queue retry ID|--all             try now ("send all" with --all)
  postern queue flush                      the same as retry --all
  postern queue hold ID|--all              no more attempts until released
  postern queue release ID|--all           attempts resume on schedule (retry to try at once)
  postern queue delete ID|--all            remove without a bounce ("clear queue" with --all)

A running server sees a change within a second. The queue lists messages that had to wait or
went to remote hosts; a message delivered at once is never in it.

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml); only dataDir is read`;

async function withQueue<T>(ctx: CliContext, configFlag: string | undefined, fn: (store: SqliteQueueStore, dataDir: string) => Promise<T>): Promise<T> {
  const dataDir = loadDataDir(configPath(ctx, configFlag));
  const db = openDatabase(dataDir);
  try {
    return await fn(new SqliteQueueStore(db), dataDir);
  } finally {
    db.close();
  }
}

/** `ID` or `--all`, exactly one of them. */
function selectorOf(args: string[], sub: string): { selector: QueueSelector; config: string | undefined } {
  const { values, positionals: pos } = parse(args, { all: { type: 'boolean' } }, 'queue');
  const [id] = positionals(pos, ['ID'], 'queue', 1);
  if (values.all && id !== undefined) throw usageError(`queue ${sub}: give an ID or --all, not both`, 'queue');
  if (!values.all && id === undefined) throw usageError(`queue ${sub}: missing ID (or --all)`, 'queue');
  return { selector: values.all ? { all: true } : { id: id!.toUpperCase() }, config: values.config };
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

function when(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

/** A bulk operation's report: "held 3 messages" or the ids. */
function report(ctx: CliContext, verb: string, ids: string[]): number {
  println(ctx, `${verb} ${ids.length} message${ids.length === 1 ? '' : 's'}${ids.length > 0 && ids.length <= 10 ? `: ${ids.join(' ')}` : ''}`);
  return 0;
}

const subs = {
  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'queue');
    positionals(pos, [], 'queue');
    const listing = await withQueue(ctx, values.config, (store) => listQueue(store));
    if (values.json) println(ctx, JSON.stringify(listing, null, 2));
    else if (listing.length === 0) println(ctx, 'queue is empty');
    else {
      const rows = listing.map((m) => [
        m.id,
        m.sender === '' ? '<>' : m.sender,
        m.recipients.join(', '),
        formatSize(m.size),
        age(m.ageSec),
        String(m.attempts),
        m.status,
        m.lastCode !== undefined ? `${m.lastCode} ${m.lastEnhanced ?? ''} ${m.lastError ?? ''}`.replace(/\s+/g, ' ').trim() : '-',
      ]);
      println(ctx, formatTable(['ID', 'SENDER', 'RECIPIENTS', 'SIZE', 'AGE', 'ATTEMPTS', 'STATUS', 'LAST ERROR'], rows));
    }
    return 0;
  },

  async show(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'queue');
    const [id] = positionals(pos, ['ID'], 'queue');
    const message = await withQueue(ctx, values.config, (store) => showMessage(store, id!.toUpperCase()));
    if (values.json) {
      println(ctx, JSON.stringify(message, null, 2));
      return 0;
    }
    const summary = summarise(message);
    println(ctx, formatFields([
      ['id', message.id],
      ['sender', message.sender === '' ? '<>' : message.sender],
      ['size', formatSize(message.size)],
      ['received', when(message.receivedAt)],
      ['age', age(summary.ageSec)],
      ['attempts', String(message.attempts)],
      ['status', summary.status],
      ['next attempt', message.held ? 'held' : when(message.nextAttemptAt)],
    ]));
    println(ctx);
    const rows = message.recipients.map((r) => [
      r.address + (r.original !== r.address ? ` (for ${r.original})` : ''),
      r.domain,
      r.status,
      String(r.attempts),
      r.code !== undefined ? `${r.code} ${r.enhanced ?? ''} ${r.reply ?? ''}`.replace(/\s+/g, ' ').trim() : '-',
      r.destination ?? '-',
    ]);
    println(ctx, formatTable(['RECIPIENT', 'DOMAIN', 'STATUS', 'ATTEMPTS', 'LAST REPLY', 'HOST'], rows));
    return 0;
  },

  async retry(args: string[], ctx: CliContext) {
    const { selector, config } = selectorOf(args, 'retry');
    return report(ctx, 'retrying', await withQueue(ctx, config, (store) => retryMessages(store, selector)));
  },

  async flush(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'queue');
    positionals(pos, [], 'queue');
    return report(ctx, 'retrying', await withQueue(ctx, values.config, (store) => retryMessages(store, { all: true })));
  },

  async hold(args: string[], ctx: CliContext) {
    const { selector, config } = selectorOf(args, 'hold');
    return report(ctx, 'held', await withQueue(ctx, config, (store) => holdMessages(store, selector, true)));
  },

  async release(args: string[], ctx: CliContext) {
    const { selector, config } = selectorOf(args, 'release');
    return report(ctx, 'released', await withQueue(ctx, config, (store) => holdMessages(store, selector, false)));
  },

  async delete(args: string[], ctx: CliContext) {
    const { selector, config } = selectorOf(args, 'delete');
    return report(ctx, 'deleted', await withQueue(ctx, config, (store, dataDir) => deleteMessages(store, spoolDirOf(dataDir), selector)));
  },
};

export const queueCommand: CommandGroup = {
  name: 'queue',
  summary: 'list, show, retry, hold, release and delete queued messages',
  help,
  run: (args, ctx) => dispatch(queueCommand, subs, args, ctx),
};
