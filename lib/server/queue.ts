/**
 * Per-key serial execution: tasks with the same key run one at a time, in the order they were
 * queued; tasks with different keys run concurrently. This is what makes handler calls for one
 * object never overlap ("per-object order").
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task queued before it under `key`; resolves or rejects with it. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      // Forget the key once nothing else was queued behind this task, so the map stays small.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
