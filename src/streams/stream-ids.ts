/** Orders two Redis stream ids (`ms-seq`) numerically; negative when `a` is older. */
export function compareStreamIds(a: string, b: string): number {
  // Both parts are decimal integers without leading zeros, so comparing
  // length first, then text, orders them numerically without parsing (this
  // runs once per committed entry).
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const aMs = aDash < 0 ? a : a.slice(0, aDash);
  const bMs = bDash < 0 ? b : b.slice(0, bDash);
  const ms = compareDigits(aMs, bMs);
  if (ms !== 0) {
    return ms;
  }
  return compareDigits(aDash < 0 ? '0' : a.slice(aDash + 1), bDash < 0 ? '0' : b.slice(bDash + 1));
}

function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) {
    return a.length < b.length ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
