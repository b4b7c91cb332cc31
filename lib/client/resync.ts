/**
 * Paging of a resync (protocol 3, `sub` with cursors): the client sends the versions it holds in id
 * order (`compareIds`), at most `HELD_PER_PAGE` per request, and follows the server's cursor until
 * both it and its own chunks are done. See PROTOCOL.md, "sub".
 */
import { compareIds, type Id } from '../protocol.js';

/** Most held versions in one `sub` request (the server's `maxIdsPerRequest` is larger). */
export const HELD_PER_PAGE = 5_000;

/** One `sub` request of a paged resync. */
export interface SubPage {
  h: Array<[Id, number]>;
  k?: Id;
  t?: Id;
}

/**
 * The request for the page after `cursor` (exclusive; undefined: from the start): the held versions
 * after it, sorted, the first `HELD_PER_PAGE` of them; `t` (the page ends at that id) when more
 * held ids follow.
 */
export function subPage(held: Array<[Id, number]>, cursor: Id | undefined, perPage = HELD_PER_PAGE): SubPage {
  const after = cursor === undefined ? held : held.filter(([id]) => compareIds(id, cursor) > 0);
  after.sort((a, b) => compareIds(a[0], b[0]));
  const page: SubPage = { h: after.slice(0, perPage) };
  if (cursor !== undefined) page.k = cursor;
  if (after.length > perPage) page.t = page.h[page.h.length - 1][0];
  return page;
}
