// What spawn() and a thread's run ask of the model checker. spawn.ts reads `spawnHook`
// (set only while the calling thread runs under the checker) so that a thread spawned
// inside a model joins it; nothing here is loaded beyond this object otherwise.

/** Where a spawned thread finds its model: the control block's heap offset and its slot. */
export type ModelTicket = [control: number, slot: number];

export interface SpawnHook {
  /**
   * Reserves the new thread's slot; the ticket goes into its spawn spec. From here to
   * started() (or cancelled()) the spawn is one step of the model: its own operations
   * are not scheduling points.
   */
  begin(): ModelTicket;
  /** The spawn failed after begin() (an argument that cannot be sent). */
  cancelled(): void;
  /**
   * The record was posted: waits (without scheduling) until the thread has reached its
   * first scheduling point, so that which threads exist never depends on timing.
   */
  started(record: number, ticket: ModelTicket): void;
}

/** Set while this thread runs under the checker. */
export const modelHooks: { spawn: SpawnHook | undefined } = { spawn: undefined };
