/**
 * Races a promise against a timer. The engine call itself cannot be cancelled (MPI has no way to
 * abandon a blocking collective), so on timeout the caller's error wins and `onTimeout` lets the
 * caller mark its state broken; the stuck call is left to the worker thread.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
