import fc from 'fast-check';
import {
  forbiddenResolvedAddress,
  generousAllowList,
  homographOf,
  hostileUrl,
} from '../../dev/hostile-input';
import { HostAllowList } from './host-allow-list';

/**
 * Properties over generated input (fast-check; a failure prints the seed and
 * the shrunk counter-example, replayable with `{ seed, path }`).
 */
describe('HostAllowList (properties)', () => {
  it('refuses every metadata or link-local host, in any notation, whatever the list allows', () => {
    fc.assert(
      fc.property(generousAllowList, hostileUrl('hooks.example.com'), (entries, url) => {
        expect(new HostAllowList(entries).checkUrl(url)).toMatchObject({ allowed: false });
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses every metadata or link-local address a permitted name resolves to', () => {
    fc.assert(
      fc.property(generousAllowList, forbiddenResolvedAddress, (entries, address) => {
        expect(new HostAllowList(entries).checkResolvedAddress(address)).toMatchObject({
          allowed: false,
        });
      }),
      { numRuns: 2000 },
    );
  });

  it('never allows a homograph of an allowed name', () => {
    const names = ['hooks.example.com', 'billing-api.staging.internal'];
    const list = new HostAllowList(names);
    fc.assert(
      fc.property(
        fc.constantFrom(...names).chain(homographOf),
        fc.constantFrom('http', 'https'),
        (host, scheme) => {
          expect(list.checkUrl(`${scheme}://${host}/health`)).toMatchObject({ allowed: false });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('answers any string with a verdict, the same one every time', () => {
    const url = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      hostileUrl('hooks.example.com'),
    );
    fc.assert(
      fc.property(generousAllowList, url, (entries, raw) => {
        const first = new HostAllowList(entries).checkUrl(raw);
        expect(typeof first.allowed).toBe('boolean');
        expect(new HostAllowList(entries).checkUrl(raw)).toEqual(first);
      }),
      { numRuns: 2000 },
    );
  });
});
