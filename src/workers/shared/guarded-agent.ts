import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent } from 'undici';
import type { HostAllowList } from './host-allow-list';

/** Outbound HTTP refused by the allow-list; never worth retrying. */
export class HostRefusedError extends Error {
  override readonly name = 'HostRefusedError';
  readonly code = 'PRINTERY_HOST_REFUSED';
}

/** True for a refusal, whether thrown directly or wrapped by undici. */
export function isHostRefused(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof HostRefusedError) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
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
  return new Agent({
    keepAliveTimeout: 10_000,
    connections: 64,
    connect: { lookup: guardedLookup(allowList) },
  });
}
