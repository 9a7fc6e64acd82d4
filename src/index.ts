// weft's public API: README.md introduces it; `npm run docs` builds the reference from the doc comments.
export { configure } from './heap/heap.ts';
export { heapStats, type HeapStats } from './heap/alloc.ts';
export { runtimeHandle, attach } from './runtime.ts';
export { codecs, type Codec, type FixedCodec, type UserCodec, type AnyCodec } from './codec/index.ts';

export { spawn, Builder, type ModuleEntry, type ThreadFunction, type EntryArgs, type EntryResult } from './thread/spawn.ts';
export { JoinHandle, ScopedJoinHandle } from './thread/join_handle.ts';
export { Thread, current } from './thread/thread.ts';
export { panicking } from './thread/current.ts';
export { PanicError, SpawnError } from './thread/errors.ts';
export { park, parkTimeout, parkAsync } from './thread/parker.ts';
export { sleep, sleepUntil, sleepAsync, sleepUntilAsync, yieldNow, availableParallelism } from './thread/sleep.ts';
export { scope, scopeAsync, Scope } from './thread/scope.ts';
export { threadLocal, LocalKey, AccessError } from './thread/local.ts';
export { AtomicI32, AtomicU32, AtomicBool, AtomicI64, AtomicU64, type CompareExchange } from './sync/atomic.ts';
export { PoisonError } from './sync/poison.ts';
export { Mutex, type MutexGuard } from './sync/mutex.ts';
export { RwLock, type RwLockReadGuard, type RwLockWriteGuard } from './sync/rwlock.ts';
export { Condvar } from './sync/condvar.ts';
export { Once, type OnceState } from './sync/once.ts';
export { OnceLock, LazyLock, type TryInsert } from './sync/once_lock.ts';
export { shared } from './sync/shared.ts';
export { OnceCell, SetError } from './sync/once_cell.ts';
export { Notify } from './sync/notify.ts';
export { AtomicWaker } from './sync/atomic_waker.ts';
export { Barrier, type BarrierWaitResult } from './sync/barrier.ts';
export { Semaphore, Permit, AcquireError } from './sync/semaphore.ts';
export * from './channel/index.ts';
export { sharedArray, SharedArray, type SharedArrayType, type SharedArrayConstructor } from './heap/shared_array.ts';
export { ThreadPool, type ThreadPoolOptions, type ThreadPoolStats } from './pool/thread_pool.ts';
export { TaskHandle } from './pool/task_handle.ts';

// Base classes and option types the exports above name: their members are documented
// with them (types only: these are not constructed directly).
export type { Handle } from './heap/handle.ts';
export type { PinnedHandle } from './sync/mutex.ts';
export type { Atomic32, AtomicInt32, Atomic64 } from './sync/atomic.ts';
export type { SenderBase } from './channel/sender.ts';
export type { ReceiverBase } from './channel/receiver.ts';
export type { WaitOptions } from './wait/driver.ts';
export type { WaitTimeoutResult } from './sync/condvar.ts';
export type { HeapOptions } from './heap/heap.ts';
