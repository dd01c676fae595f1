export * from './notification';
export * from './run-state';
