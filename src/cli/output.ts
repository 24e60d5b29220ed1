import type Table from 'cli-table3';

/** True when stdout is a terminal: tables and colour there, JSON or plain text otherwise. */
export function isTerminal(): boolean {
  return process.stdout.isTTY === true;
}

function colourOn(): boolean {
  return isTerminal() && !process.env.NO_COLOR;
}

const ANSI = { red: 31, yellow: 33, green: 32, dim: 2, bold: 1 } as const;

/** Wraps text in an ANSI colour in a terminal (and not under NO_COLOR). */
export function paint(text: string, colour: keyof typeof ANSI): string {
  return colourOn() ? `\u001b[${ANSI[colour]}m${text}\u001b[0m` : text;
}

/** A table rendered with cli-table3; plain borders when not a terminal. */
export function renderTable(head: string[], rows: Array<Array<string | number>>): string {
  // Required on first use: `run` never draws a table, and every command
  // module (so this one) is loaded at its start (issue 16).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const TableClass = require('cli-table3') as typeof Table;
  // An empty head gives a key/value table without a header row.
  const table = new TableClass({
    ...(head.length > 0 ? { head } : {}),
    style: colourOn() ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] },
  });
  table.push(...rows);
  return table.toString();
}

export function writeLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A duration the way an operator reads it: 850ms, 12.3s, 3m20s, 2h5m, 3d4h. */
export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '-';
  }
  if (ms < 1000) {
    return `${Math.round(ms)}ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  }
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) {
    return `${minutes}m${Math.floor((ms % 60_000) / 1000)}s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours}h${minutes % 60}m`;
  }
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

/** Cuts long free text (errors, reasons) to fit a table cell. */
export function truncate(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
