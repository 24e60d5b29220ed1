import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import type { RedisClient } from '../../redis/connection-factory';
import type { CommitSink } from './commit-layout';

/**
 * A batch of commits as one script call instead of a MULTI of 2k+2
 * commands (issue 16): the same commands, run in the same order, each
 * under `redis.pcall` so that a runtime error (WRONGTYPE) fails that
 * command alone and the others still apply, exactly as inside EXEC. The
 * script returns EXEC's array: one reply per command, errors in place.
 *
 * What Redis refuses before anything runs stays a refusal: the shebang
 * (Redis 7) makes Redis refuse the whole script up front when it is over
 * maxmemory, read-only or failing to persist, and the script asks the ACL
 * about every command first (`redis.acl_check_cmd`) and runs none of them,
 * answering REFUSED, when one is denied. The batcher then sends the batch
 * as a MULTI, whose replies say which entry was refused (commit-replies.ts).
 * The ACL is asked once per command name and key: the commands here (XADD,
 * XACK, SET) touch one key, their first argument, so the answer for a name
 * and key holds for every command of the batch with them. Asking for each
 * entry's XADD was a tenth of Redis's CPU in the runtime chain.
 *
 * Every key goes in KEYS (the stage streams, the dead-letter stream and the
 * marks all derive from the hash-tagged prefix, so one slot on a Cluster).
 * ARGV: the item count, then per item its name, the index of its key in
 * KEYS, its argument count and its arguments after the key. An item is a
 * command, or one of two shorthands for the batch's output events, whose
 * field names (and XADD options) are the same from one entry to the next:
 * FIELDS (key index 0) declares a field list — how many XADD options, the
 * options, the field names — and XADDF (arguments: the FIELDS' number in
 * the batch, then the values) is the XADD of those fields with these values.
 */
export const COMMIT_SCRIPT = `#!lua
local commands, lists, at = {}, {}, 2
for i = 1, tonumber(ARGV[1]) do
  local name, key, count = ARGV[at], KEYS[tonumber(ARGV[at + 1])], tonumber(ARGV[at + 2])
  if name == 'FIELDS' then
    lists[#lists + 1] = { unpack(ARGV, at + 3, at + 2 + count) }
  elseif name == 'XADDF' then
    local list = lists[tonumber(ARGV[at + 3])]
    local options = tonumber(list[1])
    local command = { 'XADD', key }
    for j = 2, options + 1 do
      command[j + 1] = list[j]
    end
    local n = options + 2
    for j = options + 2, #list do
      command[n + 1] = list[j]
      command[n + 2] = ARGV[at + 2 + j - options]
      n = n + 2
    end
    commands[#commands + 1] = command
  else
    local command = { name, key }
    for j = 1, count do
      command[j + 2] = ARGV[at + 2 + j]
    end
    commands[#commands + 1] = command
  end
  at = at + 3 + count
end
local asked = {}
for i = 1, #commands do
  local command = commands[i]
  local keys = asked[command[1]]
  if not keys then
    keys = {}
    asked[command[1]] = keys
  end
  if not keys[command[2]] then
    if not redis.acl_check_cmd(unpack(command)) then
      return 'REFUSED'
    end
    keys[command[2]] = true
  end
end
local replies = {}
for i = 1, #commands do
  replies[i] = redis.pcall(unpack(commands[i]))
end
return replies
`;

/** The script's answer when the ACL denies one of its commands: nothing ran. */
export const SCRIPT_REFUSED = 'REFUSED';

/** Sends one laid-out batch; resolves with EXEC's array, or SCRIPT_REFUSED. */
export type CommitScript = (call: ScriptCall) => Promise<unknown>;

const SHA = createHash('sha1').update(COMMIT_SCRIPT).digest('hex');

/** Sockets that have been sent the whole script (EVAL) since they connected. */
const loadedOn = new WeakSet<object>();

/**
 * EVALSHA of the commit script, with the batch's argument list as it is.
 * Not ioredis's defineCommand: its Command copies the arguments with
 * Array.prototype.flat, about 100 ns per argument in Node 20 — 250 µs for a
 * batch of 100 entries of ~23 arguments each, 12% of the runtime chain's CPU
 * in `npm run bench` (issue 16). Otherwise what ioredis's script command
 * does: the whole script (EVAL) on a socket's first call, EVALSHA after.
 */
class CommitCommand extends Command {
  /** The socket this was last written to: a NOSCRIPT there means it must be sent the script again. */
  socket: object | undefined;

  /** `args`: the script's numkeys, KEYS and ARGV; the command owns it from here on. */
  constructor(args: Array<string | number>) {
    super('evalsha', [], { replyEncoding: 'utf8' });
    this.args = args;
  }

  override toWritable(socket: object): string | Buffer {
    // Numbers to strings, as ioredis's constructor would have done.
    this.stringifyArguments();
    this.socket = socket;
    if (!loadedOn.has(socket)) {
      loadedOn.add(socket);
      this.name = 'eval';
      this.args[0] = COMMIT_SCRIPT;
    } else if (this.name === 'eval') {
      this.name = 'evalsha';
      this.args[0] = SHA;
    }
    return super.toWritable(socket);
  }
}

function sendCommit(client: RedisClient, args: Array<string | number>): CommitCommand {
  const command = new CommitCommand(args);
  client.sendCommand(command);
  return command;
}

/**
 * The script as a function of the commit connection. A NOSCRIPT (the
 * server restarted, flushed its scripts or failed over since this socket
 * was sent the script) sends the call again with the whole script.
 */
export function commitScript(client: RedisClient): CommitScript {
  return (call) => {
    // The script's slot (SHA or the script itself) first, then numkeys, KEYS, ARGV.
    const args = [SHA, call.keys.length, ...call.keys, ...call.argv];
    const command = sendCommit(client, args.slice());
    return command.promise.catch((error: unknown) => {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) {
        throw error;
      }
      if (command.socket) {
        loadedOn.delete(command.socket);
      }
      return sendCommit(client, args).promise;
    });
  };
}

/**
 * A batch laid out for the script: what layOutBatch writes into a MULTI,
 * recorded as KEYS and ARGV. Counts its commands like a pipeline holding
 * MULTI…EXEC, so each entry's slot indexes the script's replies as they
 * index EXEC's (commit-replies.ts `failedInside`).
 */
export class ScriptCall implements CommitSink {
  readonly keys: string[] = [];
  /** ARGV: the item count (set by `argv`), then the items. */
  private readonly args: Array<string | number> = [0];
  private readonly keyIndex = new Map<string, number>();
  /** The batch's FIELDS so far, in order (XADDF names one by its position, from 1). */
  private readonly fieldLists: Array<{ options: readonly string[]; names: string[] }> = [];
  private items = 0;
  /** Pipeline positions taken so far: MULTI, the commands, EXEC. */
  length = 0;

  get argv(): Array<string | number> {
    this.args[0] = this.items;
    return this.args;
  }

  call(_framing: 'MULTI' | 'EXEC'): this {
    this.length += 1;
    return this;
  }

  xadd(key: string, ...args: Array<string | number>): this {
    return this.command('XADD', key, args);
  }

  /**
   * XADD `key` `...options` `...fields` as XADDF: only the values travel
   * per entry, the names once per batch. An output envelope has 9 or 10
   * fields, so a batch has about half the arguments, which ioredis writes
   * one by one: a batch of 100 outputs is 43 KB instead of 55 KB, and
   * encoding and writing it takes 475 µs of CPU instead of 600 (issue 16).
   */
  xaddFields(key: string, options: readonly string[], fields: readonly string[]): this {
    const list = this.fieldListOf(options, fields);
    this.item('XADDF', this.indexOf(key), 1 + fields.length / 2);
    this.args.push(list);
    for (let i = 1; i < fields.length; i += 2) {
      this.args.push(fields[i] as string);
    }
    this.length += 1;
    return this;
  }

  xack(key: string, group: string, ...ids: string[]): this {
    return this.command('XACK', key, [group, ...ids]);
  }

  set(key: string, value: string, px: 'PX', ttlMs: number): this {
    return this.command('SET', key, [value, px, ttlMs]);
  }

  private command(name: string, key: string, args: Array<string | number>): this {
    this.item(name, this.indexOf(key), args.length);
    for (const arg of args) {
      this.args.push(arg);
    }
    this.length += 1;
    return this;
  }

  private item(name: string, keyIndex: number, count: number): void {
    this.args.push(name, keyIndex, count);
    this.items += 1;
  }

  private indexOf(key: string): number {
    let index = this.keyIndex.get(key);
    if (index === undefined) {
      index = this.keys.push(key);
      this.keyIndex.set(key, index);
    }
    return index;
  }

  /** The FIELDS number of `fields`' names after `options`, declared here if new to the batch. */
  private fieldListOf(options: readonly string[], fields: readonly string[]): number {
    const count = fields.length / 2;
    search: for (let at = 0; at < this.fieldLists.length; at += 1) {
      const list = this.fieldLists[at] as { options: readonly string[]; names: string[] };
      if (list.options !== options || list.names.length !== count) {
        continue;
      }
      for (let i = 0; i < count; i += 1) {
        if (list.names[i] !== fields[2 * i]) {
          continue search;
        }
      }
      return at + 1;
    }
    const names: string[] = [];
    for (let i = 0; i < fields.length; i += 2) {
      names.push(fields[i] as string);
    }
    this.fieldLists.push({ options, names });
    this.item('FIELDS', 0, 1 + options.length + count);
    this.args.push(options.length, ...options, ...names);
    return this.fieldLists.length;
  }
}
