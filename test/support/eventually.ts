/**
 * Reads until `check` passes, and answers the last value read (the caller asserts on it): for
 * what asynchronous processes finish. No timing is asserted; after 20 s it gives up.
 */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
