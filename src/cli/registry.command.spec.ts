import { parseDependsOn } from './registry.command';

describe('parseDependsOn', () => {
  it('reads svc@range pairs, a bare name meaning any version', () => {
    const problems: string[] = [];
    expect(parseDependsOn('db@^1.0.0, cache', problems)).toEqual([
      { service: 'db', version: '^1.0.0' },
      { service: 'cache', version: '*' },
    ]);
    expect(problems).toEqual([]);
  });

  it('refuses an empty range after "@" instead of reading it as any version', () => {
    const problems: string[] = [];
    parseDependsOn('db@,cache@ ', problems);
    expect(problems).toEqual([
      '--depends-on "db@": no range after "@"; expected e.g. db@^2.0.0, or db alone for any version',
      '--depends-on "cache@": no range after "@"; expected e.g. cache@^2.0.0, or cache alone for any version',
    ]);
  });
});
