/** cluster-key-slot (ioredis's own dependency) ships no types. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key, its hash tag honoured. */
  function calculateSlot(key: string | Buffer): number;
  namespace calculateSlot {
    /** The keys' common slot, or -1 when they do not all share one. */
    function generateMulti(keys: Array<string | Buffer>): number;
  }
  export = calculateSlot;
}
