// Names a wrong argument in an error message the way a user would say it: "the string
// '2'" (a number passed as a string), "a Mutex" (a handle where something else was
// expected), "number NaN".

import { Handle } from './handle.ts';

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string '${v}'`;
  if (v === null) return 'null';
  if (v instanceof Handle) return `a ${(v as unknown as { kindName: string }).kindName}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
