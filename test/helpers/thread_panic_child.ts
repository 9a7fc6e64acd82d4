// Child process for the panic report tests: what panicking threads print to stderr,
// depending on whether anyone joins them. Each mode says on stdout what the program
// saw; the test asserts stderr exactly.
import {
  AtomicI32, Builder, channel, Mutex, PanicError, RecvError, scope, scopeAsync, spawn, type JoinHandle, type Receiver,
} from '../../src/index.ts';

/** Waits until every sender is gone, i.e. the threads holding them have ended. */
function ended(rx: Receiver<never>): void {
  try {
    rx.recv();
  } catch (e) {
    if (!(e instanceof RecvError)) throw e;
    return;
  }
  throw new Error('a message arrived where only disconnection was expected');
}

/** A named thread that throws `Error(message)` at once, holding `tx` until it ends. */
function panicking(name: string, message: string, tx: unknown): JoinHandle<never> {
  return new Builder().name(name).spawn((m: string, _tx: unknown) => {
    throw new Error(m);
  }, message, tx);
}

const modes: Record<string, () => void | Promise<void>> = {
  // Dropped unjoined, before the thread ran, and after it had ended.
  dropped() {
    {
      const [tx, rx] = channel<never>();
      panicking('early-close', 'closed before it ran', tx).close();
      ended(rx);
    }
    {
      const [tx, rx] = channel<never>();
      {
        using h = panicking('early-using', 'dropped by using', tx);
        void h;
      }
      ended(rx);
    }
    {
      const [tx, rx] = channel<never>();
      const h = panicking('late-close', 'closed after it ended', tx);
      ended(rx);
      h.close();
    }
    console.log('done');
  },

  // The panic and the release of the only JoinHandle happen at the same moment, on two threads.
  race() {
    const rounds = Number(process.argv[3]);
    for (let k = 0; k < rounds; k++) {
      const [tx, rx] = channel<never>();
      const go = new AtomicI32(0);
      // Unnamed: each thread name gets a worker of its own, and booting one per round
      // would make this a test of boot time on a loaded machine.
      const h = spawn((go: AtomicI32, k: number, _tx: unknown) => {
        go.store(1);
        while (go.load() !== 2);
        throw new Error(`race ${k}`);
      }, go, k, tx);
      while (go.load() !== 1);
      go.store(2);
      // Releasing a little later each round sweeps the release across the thread's
      // panic path, so that both sides get to see the other.
      for (let spin = 0; spin < k * 1000; spin++) go.load();
      h.close();
      ended(rx);
    }
    console.log('done');
  },

  // Kept, finished, never joined: reported when the process exits.
  kept() {
    const h = panicking('kept', 'nobody joins me', undefined);
    while (!h.isFinished()); // isFinished() never takes the result
    console.log('done');
  },

  async joined() {
    const seen: string[] = [];
    try {
      spawn(() => {
        throw new TypeError('joined');
      }).join();
    } catch (e) {
      seen.push((e as Error).name);
    }
    try {
      await spawn(async () => {
        throw new RangeError('joined async');
      }).joinAsync();
    } catch (e) {
      seen.push((e as Error).name);
    }
    // Joined after it has long ended, the handle kept meanwhile.
    const [tx, rx] = channel<never>();
    const late = panicking('late-join', 'joined late', tx);
    ended(rx);
    try {
      late.join();
    } catch (e) {
      seen.push((e as Error).name);
    }
    console.log(seen.join(' '));
  },

  movedJoined() {
    const victim = panicking('moved', 'joined elsewhere', undefined);
    const joiner = spawn((h: JoinHandle<never>) => {
      try {
        h.join();
        return 'returned';
      } catch (e) {
        return (e as Error).message;
      }
    }, victim);
    console.log(joiner.join());
  },

  movedDropped() {
    // The receiving thread closes the handle after the panic ...
    const a = panicking('dropped-there', 'closed by another thread', undefined);
    spawn((h: JoinHandle<never>) => {
      while (!h.isFinished());
      h.close();
    }, a).join();
    // ... or ends holding it unjoined (its owned table releases it) ...
    const b = panicking('ended-with-it', 'released with its holder', undefined);
    spawn((h: JoinHandle<never>) => {
      while (!h.isFinished());
    }, b).join();
    // ... or lets it go before the thread panics, which then reports it itself.
    const [goTx, goRx] = channel<number>();
    const [tx, rx] = channel<never>();
    const c = new Builder().name('panics-later').spawn((go: Receiver<number>, _tx: unknown) => {
      go.recv();
      throw new Error('after its handle was dropped elsewhere');
    }, goRx, tx);
    spawn((h: JoinHandle<never>) => h.close(), c).join();
    goTx.send(1);
    ended(rx);
    console.log('done');
  },

  // A JoinHandle stored in a Mutex value: each guard reads it (a copy of its ref) and
  // gives that back at unlock; only the value's own ref keeps it unreported.
  stored() {
    const [tx, rx] = channel<never>();
    const joined = new Mutex({ h: panicking('stored-joined', 'joined through a guard', undefined) });
    const dropped = new Mutex({ h: panicking('stored-dropped', 'dropped with its mutex', tx) });
    ended(rx);
    for (let k = 0; k < 5; k++) {
      dropped.withLock((v) => v.h.isFinished());
      using g = joined.lock();
      g.value.h.isFinished();
    }
    dropped.close(); // the last ref of the mutex: its value, and the JoinHandle in it, are dropped
    console.log(
      joined.withLock((v) => {
        try {
          v.h.join();
          return 'returned';
        } catch (e) {
          return (e as Error).name;
        }
      }),
    );
  },

  // An error thrown outside the thread's function (a timer) while it runs: the
  // supervisor learns of it when the worker dies and reports it if nobody joins.
  async timer() {
    const [tx, rx] = channel<never>();
    new Builder().name('timer-dropped').spawn((_tx: unknown) =>
      new Promise(() => setTimeout(() => {
        throw new Error('thrown by a timer');
      }, 0)), tx).close();
    ended(rx);
    try {
      await new Builder().name('timer-joined').spawn(() =>
        new Promise(() => setTimeout(() => {
          throw new Error('thrown by a timer');
        }, 0))).joinAsync();
    } catch (e) {
      console.log((e as Error).message);
    }
  },

  closedThenPanic() {
    const [goTx, goRx] = channel<number>();
    const [tx, rx] = channel<never>();
    const h = new Builder().name('orphan').spawn((go: Receiver<number>, _tx: unknown) => {
      go.recv();
      throw new Error('panicked after its handle was closed');
    }, goRx, tx);
    h.close();
    goTx.send(1);
    ended(rx);
    console.log('done');
  },

  async scoped() {
    const seen: string[] = [];
    try {
      scope((s) => {
        s.spawn(() => {
          throw new Error('scoped, unjoined');
        });
        // A handle closed inside the scope: the scope still receives its panic.
        s.spawn(() => 1).close();
      });
    } catch (e) {
      seen.push(`${(e as Error).message}: ${((e as PanicError).cause as Error).message}`);
    }
    try {
      await scopeAsync((s) => {
        s.spawn(() => {
          throw new Error('async scope');
        }).close();
      });
    } catch (e) {
      seen.push(`${(e as Error).message}: ${((e as PanicError).cause as Error).message}`);
    }
    // A scoped thread joined inside the scope: the join received it, the scope does not throw.
    seen.push(
      scope((s) => {
        try {
          s.spawn(() => {
            throw new Error('joined in scope');
          }).join();
        } catch (e) {
          return (e as Error).name;
        }
        return 'returned';
      }),
    );
    console.log(seen.join('\n'));
  },

  // Two unjoined panics: the scope throws the first; nobody receives the second.
  scopedTwo() {
    try {
      scope((s) => {
        new Builder().name('first').spawnScoped(s, () => {
          throw new Error('one');
        });
        new Builder().name('second').spawnScoped(s, () => {
          throw new Error('two');
        });
      });
    } catch (e) {
      console.log(((e as PanicError).cause as Error).message);
    }
  },

  overflow() {
    const [tx, rx] = channel<never>();
    new Builder().name('deep').spawn((_tx: unknown) => {
      const down = (n: number): number => down(n + 1) + 1;
      return down(0);
    }, tx).close();
    ended(rx);
    console.log('done');
  },

  // Returning, exiting and being killed are not panics to report.
  async quiet() {
    spawn(() => 1).join();
    try {
      spawn(() => process.exit(2)).join();
    } catch {
      console.log('exit is a PanicError');
    }
    const [tx, rx] = channel<never>();
    spawn((_tx: unknown) => process.exit(3), tx).close();
    ended(rx);
    const [started, ready] = channel<number>();
    const sleeper = spawn((started: { send(n: number): void }) => {
      started.send(1);
      for (;;);
    }, started);
    ready.recv();
    await sleeper.terminate();
    sleeper.close();
    console.log('done');
  },
};

await modes[process.argv[2]]();
