// Two projects so unit tests stay fast and integration tests (which start the local cloud) run apart.
// Lambda runs in UTC, a laptop often does not, and Date reads a text without a zone in local time:
// every test runs in a zone half an hour off UTC, with summer time, so code that leans on the
// process's zone fails here rather than on a user's laptop. Workers inherit it.
process.env.TZ = 'America/St_Johns';
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
  ],
};
const common = {
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
    },
  ],
  testTimeout: 120000,
};
