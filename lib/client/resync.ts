/**
 * Paging of a resync (protocol 3, `sub` with cursors): the client sends the versions it holds in id
 * order (`compareIds`), at most `HELD_PER_PAGE` and about `HELD_BYTES_PER_PAGE` per request, and
 * follows the server's cursor until both it and its own chunks are done. See PROTOCOL.md, "sub".
 */
import { compareIds, indexAfter, type Id } from '../protocol.js';

/** Most held versions in one `sub` request (the server's `maxIdsPerRequest` is larger). */
export const HELD_PER_PAGE = 5_000;
/**
 * About the most JSON bytes of held versions in one `sub` request: well within the server's
 * `maxPayloadBytes` (1 MiB by default), also for long ids (5 000 ids of 256 characters are 1.3 MB).
 */
export const HELD_BYTES_PER_PAGE = 128 * 1024;

/** One `sub` request of a paged resync. */
export interface SubPage {
  h: Array<[Id, number]>;
  k?: Id;
  t?: Id;
}

/**
 * The versions a resync holds, sorted once when it starts; each page takes its slice. Versions
 * received during the resync are not added: a page then tells the server an older version (or none),
 * and the server answers the object whole, which the client applies by version — the same end state
 * for much less work than collecting the map again for every page.
 */
export class HeldVersions {
  private readonly held: Array<[Id, number]>;

  constructor(
    held: Array<[Id, number]>,
    private readonly perPage = HELD_PER_PAGE,
    private readonly perPageBytes = HELD_BYTES_PER_PAGE,
  ) {
    this.held = held.sort((a, b) => compareIds(a[0], b[0]));
  }

  /**
   * The request for the page after `cursor` (exclusive; undefined: from the start): the held versions
   * after it, the first `perPage` of them (fewer when they pass `perPageBytes`); `t` (the page ends
   * at that id) when more held ids follow.
   */
  page(cursor: Id | undefined): SubPage {
    const from = cursor === undefined ? 0 : indexAfter(this.held, cursor, ([id]) => id);
    let to = from;
    for (let bytes = 0; to < this.held.length && to - from < this.perPage; to++) {
      const [id, v] = this.held[to];
      bytes +=
        (typeof id === 'string' ? JSON.stringify(id).length : String(id).length) + String(v).length + 4;
      if (bytes > this.perPageBytes && to > from) break;
    }
    const page: SubPage = { h: this.held.slice(from, to) };
    if (cursor !== undefined) page.k = cursor;
    if (to < this.held.length) page.t = page.h[page.h.length - 1][0];
    return page;
  }
}

/** The request for the page after `cursor` of `held` (see `HeldVersions#page`). */
export function subPage(held: Array<[Id, number]>, cursor: Id | undefined, perPage = HELD_PER_PAGE): SubPage {
  return new HeldVersions(held, perPage).page(cursor);
}
