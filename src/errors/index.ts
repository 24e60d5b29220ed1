export { ConfigError } from './config.error';
export { InvalidEntryError } from './invalid-entry.error';
export { StartupError } from './startup.error';
