/** Process exit codes (SPEC §5). */
export const EXIT = {
  ok: 0,
  runtimeFailure: 1,
  invalidConfig: 2,
  /** `publish --wait` gave up waiting (the convention of timeout(1)). */
  waitTimeout: 124,
  forcedInterrupt: 130,
} as const;
