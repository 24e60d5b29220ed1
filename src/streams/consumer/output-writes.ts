import { type Envelope, entryBytes, mayExceedBytes } from '../envelope';
import { encodeOutputEnvelope } from '../output-envelope';
import type { CommitMark, OutboundEvent } from '../handler';
import type { StreamTopology } from '../topology';
import type { CommitWriter, CommitWrites } from './commit-layout';

/** What an entry's handler produced, ready for its commit: the outputs' fields, in order. */
export type EncodedOutputs = { fieldLists: string[][] } | { tooLarge: string };

/** XADD's arguments before an output's fields: one array, so the script call can share it. */
export function xaddOptionsFor(maxLen: number): readonly string[] {
  return maxLen > 0 ? ['MAXLEN', '~', String(maxLen), '*'] : ['*'];
}

/**
 * Each output as its entry's field list (SPEC §1 envelope, caused by
 * `cause`), or the reason the first one over MAX_EVENT_BYTES cannot be
 * written: then none is, and the entry is dead-lettered instead.
 */
export function encodeOutputs(
  outputs: readonly OutboundEvent[],
  context: { worker: string; cause: Envelope; traceparent: string | undefined },
  maxEventBytes: number,
): EncodedOutputs {
  const fieldLists: string[][] = [];
  for (let i = 0; i < outputs.length; i += 1) {
    const output = outputs[i] as OutboundEvent;
    const fields = encodeOutputEnvelope(output, context);
    if (mayExceedBytes(fields, maxEventBytes)) {
      const size = entryBytes(fields);
      return {
        tooLarge: `output ${output.type} is ${size} bytes, over MAX_EVENT_BYTES (${maxEventBytes})`,
      };
    }
    fieldLists.push(fields);
  }
  return { fieldLists };
}

/** The commit's writes for encoded outputs and the handler's marks, added before the entry's XACK. */
export function outputWrites(
  topology: StreamTopology,
  xaddOptions: readonly string[],
  outputs: readonly OutboundEvent[],
  fieldLists: readonly string[][],
  marks: readonly CommitMark[] | undefined,
): CommitWrites {
  return (multi) => {
    for (let i = 0; i < fieldLists.length; i += 1) {
      addTo(
        multi,
        topology.stream((outputs[i] as OutboundEvent).type),
        xaddOptions,
        fieldLists[i] as string[],
      );
    }
    for (const mark of marks ?? []) {
      multi.set(mark.key, mark.value, 'PX', mark.ttlMs);
    }
  };
}

function addTo(
  multi: CommitWriter,
  stream: string,
  xaddOptions: readonly string[],
  fields: string[],
): void {
  if (multi.xaddFields) {
    multi.xaddFields(stream, xaddOptions, fields);
  } else {
    multi.xadd(stream, ...xaddOptions, ...fields);
  }
}
