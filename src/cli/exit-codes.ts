/** Process exit codes (SPEC §5). */
export const EXIT = {
  ok: 0,
  runtimeFailure: 1,
  invalidConfig: 2,
  forcedInterrupt: 130,
} as const;
