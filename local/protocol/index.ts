export * from './errors';
export * from './http';
export * from './json';
export * from './store';
