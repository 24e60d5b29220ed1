import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import type { HostAllowList } from './host-allow-list';
import { undici } from './undici';

/** Outbound HTTP refused by the allow-list; never worth retrying. */
export class HostRefusedError extends Error {
  override readonly name = 'HostRefusedError';
  readonly code = 'PRINTERY_HOST_REFUSED';
}

/** The refusal inside `error`, whether thrown directly or wrapped by undici. */
export function findHostRefused(error: unknown): HostRefusedError | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof HostRefusedError) {
      return current;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The error undici wrapped (a socket error such as ECONNREFUSED), or `error` itself. */
function innermost(error: unknown): unknown {
  let current: unknown = error;
  for (
    let depth = 0;
    depth < 5 && current instanceof Error && current.cause instanceof Error;
    depth += 1
  ) {
    current = current.cause;
  }
  return current;
}

/** The innermost error message with its code: undici wraps socket errors (ECONNREFUSED…) in its own. */
export function describeHttpError(error: unknown): string {
  const current = innermost(error);
  if (!(current instanceof Error)) {
    return String(current);
  }
  const code = (current as { code?: unknown }).code;
  return typeof code === 'string' && !current.message.includes(code)
    ? `${code}: ${current.message}`
    : current.message;
}

/** A short class for a failed request (its `error.type` in a span): the code (ECONNREFUSED) or name. */
export function httpErrorType(error: unknown): string {
  const current = innermost(error);
  const code = (current as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    return code;
  }
  return current instanceof Error ? current.name : typeof current;
}

/** Waits `ms`, rejecting with the signal's own reason (not a generic AbortError) on abort. */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    signal.throwIfAborted();
    throw error;
  }
}

/**
 * A DNS lookup that checks every address against the allow-list before the
 * socket connects to it. The socket then uses exactly the checked address,
 * so a name cannot be re-resolved to somewhere else between check and
 * connect (DNS rebinding).
 */
export function guardedLookup(allowList: HostAllowList): LookupFunction {
  return (hostname, options: LookupOptions, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      for (const entry of addresses) {
        const check = allowList.checkResolvedAddress(entry.address);
        if (!check.allowed) {
          callback(new HostRefusedError(`host ${hostname} ${check.reason}`), '', 0);
          return;
        }
      }
      const first = addresses[0];
      if (!first) {
        callback(new Error(`host ${hostname} has no address`), '', 0);
      } else if (options.all) {
        callback(null, addresses);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

/**
 * A keep-alive undici Agent whose connections only reach allowed addresses.
 * Redirects are never followed: undici's `request` returns a 3xx as is.
 */
export function createGuardedAgent(allowList: HostAllowList): Agent {
  return new (undici().Agent)({
    keepAliveTimeout: 10_000,
    connections: 64,
    connect: { lookup: guardedLookup(allowList) },
  });
}
