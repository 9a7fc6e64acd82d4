// Helpers that transpilers inject into function source. A function given to spawn()
// travels as its source text, and under esbuild (tsx, vitest) that text calls helpers
// which the caller's module defined but the new thread has not:
//  - __name(fn, "name") where names are kept (keepNames);
//  - __using(stack, value, isAsync) / __callDispose(stack, error, hasError) where
//    `using` declarations are lowered for runtimes without them (Node 20).
// TypeScript's own compiler (tsc, target below ESNext) lowers `using` to its helpers
// __addDisposableResource(env, value, isAsync) / __disposeResources(env), and async
// functions (target below ES2017) to __awaiter(this, arguments, P, generator): those are
// provided too, with the semantics tsc's emitted code expects of them.
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

/** tsc's record of one `using` scope: what to dispose, and the error that ends the scope. */
interface DisposeEnv {
  stack: Array<{ value?: unknown; dispose?: () => unknown; async: boolean }>;
  error: unknown;
  hasError: boolean;
}

g.__addDisposableResource ??= (env: DisposeEnv, value: unknown, isAsync: boolean) => {
  if (value === null || value === undefined) {
    if (isAsync) env.stack.push({ async: true }); // `await using x = null` still awaits at scope exit
    return value;
  }
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError('using: the value must be an object with a [Symbol.dispose]() method');
  }
  const v = value as Record<symbol, unknown>;
  let dispose = isAsync ? v[asyncDisposeSymbol] : undefined;
  let syncUnderAwait = false;
  if (dispose === undefined) {
    dispose = v[disposeSymbol];
    syncUnderAwait = isAsync;
  }
  if (typeof dispose !== 'function') throw new TypeError('using: the value is not disposable');
  const f = dispose as () => unknown;
  // `await using` of a value with only [Symbol.dispose]: its throw becomes the awaited rejection.
  const run = syncUnderAwait
    ? function (this: unknown) {
        try {
          f.call(this);
        } catch (e) {
          return Promise.reject(e);
        }
        return undefined;
      }
    : f;
  env.stack.push({ value, dispose: run, async: isAsync });
  return value;
};

g.__disposeResources ??= (env: DisposeEnv) => {
  const fail = (e: unknown) => {
    env.error = env.hasError ? suppressed(e, env.error) : e;
    env.hasError = true;
  };
  let owesAwait = false; // an `await using` of null/undefined was passed: one await is due
  // Most recent first. Returns undefined (or throws) when nothing was async, else a promise
  // that the lowered `await using` scope awaits.
  const next = (): unknown => {
    for (let r = env.stack.pop(); r; r = env.stack.pop()) {
      try {
        if (owesAwait && !r.async) {
          owesAwait = false;
          env.stack.push(r);
          return Promise.resolve().then(next);
        }
        if (!r.dispose) {
          owesAwait = true;
          continue;
        }
        const result = r.dispose.call(r.value);
        if (r.async) {
          owesAwait = false;
          return Promise.resolve(result).then(next, (e) => (fail(e), next()));
        }
      } catch (e) {
        fail(e);
      }
    }
    if (owesAwait) return env.hasError ? Promise.reject(env.error) : Promise.resolve();
    if (env.hasError) throw env.error;
    return undefined;
  };
  return next();
};

g.__awaiter ??= (thisArg: unknown, args: ArrayLike<unknown> | undefined, P: PromiseConstructor | undefined, body: (...a: unknown[]) => Generator) => {
  const Ctor = P ?? Promise;
  return new Ctor((resolve, reject) => {
    const it = body.apply(thisArg, Array.from(args ?? []));
    const step = (advance: () => IteratorResult<unknown>) => {
      let r: IteratorResult<unknown>;
      try {
        r = advance();
      } catch (e) {
        reject(e);
        return;
      }
      if (r.done) resolve(r.value);
      else Ctor.resolve(r.value).then((v) => step(() => it.next(v)), (e) => step(() => it.throw(e)));
    };
    step(() => it.next());
  });
};
