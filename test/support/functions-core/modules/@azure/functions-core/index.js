'use strict';

// Stand-in for the worker's `@azure/functions-core` (the real one exists only inside the Functions
// host's Node.js worker). @azure/functions calls it to register each function; here every call is
// recorded, in order, so tests can read back exactly what the library would hand the host.
// CommonJS on purpose: @azure/functions loads this module with a native require().

const registrations = [];
const hooks = [];
let programmingModel;

module.exports = {
  registrations,
  hooks,
  getProgrammingModel: () => programmingModel,
  setProgrammingModel(model) {
    programmingModel = model;
  },
  registerFunction(metadata, callback) {
    const registration = { metadata, callback };
    registrations.push(registration);
    return { dispose: () => registrations.splice(registrations.indexOf(registration), 1) };
  },
  registerHook(hookName, callback) {
    const hook = { hookName, callback };
    hooks.push(hook);
    return { dispose: () => hooks.splice(hooks.indexOf(hook), 1) };
  },
};
