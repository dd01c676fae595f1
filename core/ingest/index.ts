export * from './formats';
export * from './report';
export * from './split';
export * from './validate';
export * from './validate-sql';
