export * from './split';
export * from './validate';
