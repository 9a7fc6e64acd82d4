// weft/check: a schedule explorer that model-checks programs built on weft, in the
// spirit of Rust's loom. Every atomic operation, wait and notify weft performs (and
// those of the weft atomics a body uses) becomes a scheduling point; model() runs a
// body under many interleavings of its threads and replays a failing one from its seed.

export { model, type ModelOptions, type ModelResult } from './model.ts';
export { ModelAbort } from './abort.ts';
