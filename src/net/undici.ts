import type * as Undici from 'undici';

let loaded: typeof Undici | undefined;

/**
 * undici, required on its first use instead of at start: `run` needs it only
 * once a health probe or a webhook goes out, and loading it took ~75 ms of
 * a ~0.9 s start → ready (require timing, issue 16). The Health Monitor and
 * the Notifier load it in their warm-up, a second after they start, so the
 * first request does not pay for it either.
 */
export function undici(): typeof Undici {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('undici') as typeof Undici;
  return loaded;
}
