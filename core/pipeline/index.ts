export * from './approval';
export * from './notification';
export * from './registration';
export * from './run-state';
export * from './training-job';
