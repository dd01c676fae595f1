export * from './catalog';
export * from './errors';
export * from './examples';
export * from './json-schema';
export * from './load';
export * from './schema';
export * from './target';
