// A module thread for the bench (`spawn({ module })`), in TypeScript beside its
// JavaScript twin module-job.mjs: weft registers tsx in the worker for it.
export function run(x: number): number {
  return x + 1;
}
