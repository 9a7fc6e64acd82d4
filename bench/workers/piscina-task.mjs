// piscina's worker for the pool benches: one small task (add one), and the same over a
// chunk of items for the hand-chunked map. Plain JavaScript: piscina imports it as is.
export default function task(x) {
  return Array.isArray(x) ? x.map((v) => v + 1) : x + 1;
}
