export * from './fitted';
export * from './sql';
export * from './transform';
