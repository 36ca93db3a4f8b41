// The llama.cpp oracle suite: `npm run test:oracle` (needs `npm install` in test/oracle first).
/** @type {import('jest').Config} */
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/oracle'],
  testMatch: ['**/*.oracle.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }] },
  testTimeout: 600000,
  maxWorkers: 1,
};
