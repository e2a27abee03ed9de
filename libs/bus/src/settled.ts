// A wait with a bound, for the stops and drains that must end even when the other side never answers (a
// network cut, a frozen nats-server): what did not settle in time is left as it is, as after a crash.

/** Whether `p` settled (either way) within `ms`; `ms` <= 0 does not wait. Never throws. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = p.then(() => true as const, () => true as const);
  if (ms <= 0) return false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bounded = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([settled, bounded]);
  clearTimeout(timer);
  return result;
}
