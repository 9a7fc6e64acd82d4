// A module thread for the bench (`spawn({ module })`), in JavaScript beside its
// TypeScript twin module-job.ts.
export function run(x) {
  return x + 1;
}
