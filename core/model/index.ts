export * from './bundle';
export * from './encoding';
export * from './manifest';
export * from './scorer';
export * from './serving';
