/**
 * Preloaded by `deno task deploy:check` before deploy.ts: takes away what a
 * Deno Deploy isolate does not offer and permission flags cannot deny. Web
 * Workers are the one: any `new Worker(...)` throws, so code that would train
 * in a Worker on Deploy fails the check instead of passing locally.
 *
 * @module
 */
class NoWorker {
  constructor() {
    throw new Error("Web Workers are not available on Deno Deploy (deploy:check forbids them)");
  }
}
Object.defineProperty(globalThis, "Worker", { value: NoWorker, configurable: false });
