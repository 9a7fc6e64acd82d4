// Helpers that transpilers inject into function source. A function given to spawn()
// travels as its source text, and under esbuild (tsx, vitest) that text calls helpers
// which the caller's module defined but the new thread has not:
//  - __name(fn, "name") where names are kept (keepNames);
//  - __using(stack, value, isAsync) / __callDispose(stack, error, hasError) where
//    `using` declarations are lowered for runtimes without them (Node 20).
// They are defined here, on the thread's global object, only if missing.

type Disposal = [isAsync: boolean, dispose?: () => unknown, value?: unknown];

const g = globalThis as Record<string, unknown>;

g.__name ??= (f: unknown, name: string) => {
  try {
    Object.defineProperty(f, 'name', { value: name, configurable: true });
  } catch {
    // a frozen function keeps its name
  }
  return f;
};

const disposeSymbol = Symbol.dispose ?? Symbol.for('Symbol.dispose');
const asyncDisposeSymbol = Symbol.asyncDispose ?? Symbol.for('Symbol.asyncDispose');

g.__using ??= (stack: Disposal[], value: unknown, isAsync: boolean) => {
  if (value === null || value === undefined) {
    if (isAsync) stack.push([true]); // `await using x = null` still awaits at scope exit
    return value;
  }
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError('using: the value must be an object with a [Symbol.dispose]() method');
  }
  const v = value as Record<symbol, unknown>;
  const dispose = (isAsync ? v[asyncDisposeSymbol] : undefined) ?? v[disposeSymbol];
  if (typeof dispose !== 'function') throw new TypeError('using: the value is not disposable');
  stack.push([isAsync, dispose as () => unknown, value]);
  return value;
};

/** An error thrown while disposing, with the one it displaced (SuppressedError where missing). */
function suppressed(error: unknown, displaced: unknown): Error {
  const S = (globalThis as { SuppressedError?: new (e: unknown, s: unknown, m: string) => Error }).SuppressedError;
  if (S) return new S(error, displaced, 'An error was suppressed during disposal');
  return Object.assign(new Error('An error was suppressed during disposal'), { name: 'SuppressedError', error, suppressed: displaced });
}

g.__callDispose ??= (stack: Disposal[], error: unknown, hasError: boolean) => {
  const fail = (e: unknown) => {
    error = hasError ? suppressed(e, error) : e;
    hasError = true;
  };
  // Most recent first; an async disposal makes the rest wait for it.
  const next = (): unknown => {
    for (let entry = stack.pop(); entry; entry = stack.pop()) {
      const [isAsync, dispose, value] = entry;
      try {
        const result = dispose?.call(value);
        if (isAsync) return Promise.resolve(result).then(next, (e) => (fail(e), next()));
      } catch (e) {
        fail(e);
      }
    }
    if (hasError) throw error;
    return undefined;
  };
  return next();
};
