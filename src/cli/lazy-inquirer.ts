import Module, { createRequire } from 'node:module';

/**
 * nest-commander requires inquirer as it loads (for question sets: prompts,
 * which no command here has), and inquirer brings lodash, ora, chardet,
 * iconv-lite and more: ~50 ms of start-up and a few MB that `run` never
 * uses (issue 16). Imported first by main.ts, this puts a stand-in in the
 * module cache under inquirer's path; its prompt() loads the real inquirer,
 * so a command that does prompt still works.
 */
const fromCommander = createRequire(require.resolve('nest-commander'));
const path = fromCommander.resolve('inquirer');

if (require.cache[path] === undefined) {
  const standIn = new Module(path);
  standIn.filename = path;
  standIn.loaded = true;
  standIn.exports = {
    // nest-commander reads it through __importStar: an ES module is taken as it is.
    __esModule: true,
    prompt(...args: unknown[]): unknown {
      Reflect.deleteProperty(require.cache, path);
      const inquirer = fromCommander('inquirer') as { prompt: (...a: unknown[]) => unknown };
      return inquirer.prompt(...args);
    },
  };
  require.cache[path] = standIn;
}
