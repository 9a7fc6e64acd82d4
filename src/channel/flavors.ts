// This thread's access to a channel object, by the flavor recorded in it.

import { ArrayRing } from './array.ts';
import { Flavor, flavorOf, type Core } from './layout.ts';
import { List } from './list.ts';
import { Zero } from './zero.ts';

export function coreOf<T>(p: number): Core<T> {
  switch (flavorOf(p)) {
    case Flavor.List:
      return new List<T>(p);
    case Flavor.Array:
      return new ArrayRing<T>(p);
    default:
      return new Zero<T>(p);
  }
}
