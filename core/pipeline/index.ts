export * from './notification';
export * from './run-state';
export * from './training-job';
