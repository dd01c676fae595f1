export * from './approval';
export * from './evaluation';
export * from './notification';
export * from './registration';
export * from './run-state';
export * from './training-job';
