/** @type {import('jest').Config} */
const base = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    // Unit specs beside the code, and beside the dev tools' pure parts (the chaos checker).
    {
      ...base,
      displayName: 'unit',
      rootDir: '.',
      roots: ['<rootDir>/src', '<rootDir>/dev'],
      testRegex: '.*\\.spec\\.ts$',
    },
    // Integration and e2e tests start their own redis-server and spawn the built CLI.
    { ...base, displayName: 'integration', rootDir: 'test', testRegex: '.*\\.int-spec\\.ts$', slowTestThreshold: 30 },
    { ...base, displayName: 'e2e', rootDir: 'test', testRegex: '.*\\.e2e-spec\\.ts$', slowTestThreshold: 60 },
  ],
  testTimeout: 60_000,
};
