export * from './app-config';
export * from './worker-names';
export { loadConfig, type FlagValues, type LoadOptions } from './load-config';
export { parseDuration, formatDuration } from './duration';
export { SETTINGS } from './settings';
export const APP_CONFIG = Symbol('APP_CONFIG');
