/**
 * The request headers a connection keeps (`ConnectionInfo.httpHeaders`), on every transport: SockJS's whitelist,
 * which is what Meteor exposes as `connection.httpHeaders`. Keeping every header would hold a few hundred bytes of
 * strings per idle connection (cookies can be much more) for nothing.
 *
 * Clients of one app mostly send the same few of them (one host, a handful of browsers and languages), so
 * connections whose kept headers are equal share one frozen object: an idle connection then holds no header
 * object or string of its own (issue 16: ≤ 3 KB of heap per idle connection). The last
 * {@link SHARED_HEADER_SETS} distinct sets are remembered, first in first out: a client sending headers of its
 * own each time costs a lookup and nothing more.
 */

/** The headers kept, lower-case, in the order they are picked. */
export const CONNECTION_HEADERS = [
  'referer',
  'x-client-ip',
  'x-forwarded-for',
  'x-cluster-client-ip',
  'via',
  'x-real-ip',
  'x-forwarded-proto',
  'x-ssl',
  'dnt',
  'host',
  'user-agent',
  'accept-language',
] as const;

/** Kept headers: frozen, possibly shared with other connections. */
export type KeptHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** How many distinct sets of kept headers are remembered for sharing. */
export const SHARED_HEADER_SETS = 256;

/** Kept header objects by their contents (see {@link keyOf}), oldest first. */
const shared = new Map<string, KeptHeaders>();

/**
 * Picks {@link CONNECTION_HEADERS} out of a request's headers: a frozen object, the same one for every request
 * whose picked headers are equal while it is remembered.
 */
export function connectionHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): KeptHeaders {
  const kept: Record<string, string | string[] | undefined> = {};
  let key: string | undefined = '';
  for (const name of CONNECTION_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    kept[name] = value;
    // A value that is not one string (a repeated header Node did not join) is rare: such sets are not shared.
    key = typeof value === 'string' && key !== undefined ? key + keyOf(name, value) : undefined;
  }
  if (key === undefined) return Object.freeze(kept);
  const known = shared.get(key);
  if (known !== undefined) return known;
  const frozen = Object.freeze(kept);
  if (shared.size >= SHARED_HEADER_SETS) shared.delete(shared.keys().next().value as string);
  shared.set(key, frozen);
  return frozen;
}

/** One header in a set's key: lengths first, so no value can make two different sets look alike. */
function keyOf(name: string, value: string): string {
  return `${name.length}:${name}${value.length}:${value}`;
}
