// Kind ids of heap objects. Fixed numbers, so every thread (and every copy of the
// code that attaches to the heap) reads an object's kind the same way.
export const Kind = {
  Thread: 1,
  Scope: 2,
  AtomicI32: 10,
  AtomicU32: 11,
  AtomicBool: 12,
  AtomicI64: 13,
  Once: 20,
  OnceLock: 21,
  LazyLock: 22,
  OnceCell: 23,
  Mutex: 24,
  RwLock: 25,
  Condvar: 26,
  Barrier: 27,
  Semaphore: 28,
  Notify: 29,
  SemaphorePermit: 30,
  Channel: 40,
  Oneshot: 41,
  SharedArray: 50,
} as const;
