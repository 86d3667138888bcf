// A cursor-paged list from the API (`{items, next_cursor}`), and the table that shows one: the
// first page loads whenever the fetch changes (a new filter) or `reload()` is called, "Show
// more" appends the next page, a failed load keeps what is shown and says why.

import { useCallback, useEffect, useState, type Dispatch, type ReactNode, type SetStateAction } from 'react';
import type { Page } from '../senderApi';
import { Loading, ProblemBanner, problemOf, type Problem } from '../ui';

export interface PagedList<T> {
  /** null until the first page came. */
  items: T[] | null;
  setItems: Dispatch<SetStateAction<T[] | null>>;
  next: string | null;
  problem: Problem | null;
  /** Appends the next page. */
  more: () => void;
  /** Loads the first page again (after a change). */
  reload: () => void;
}

/** `fetchPage` must be memoized (useCallback) on what it reads: a new one reloads the list. */
export function usePagedList<T>(fetchPage: (cursor: string | null) => Promise<Page<T>>): PagedList<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [version, setVersion] = useState(0);

  const load = useCallback(
    async (cursor: string | null) => {
      try {
        const p = await fetchPage(cursor);
        setItems((old) => (cursor && old ? [...old, ...p.items] : p.items));
        setNext(p.next_cursor);
        setProblem(null);
      } catch (e) {
        setProblem(problemOf(e));
      }
    },
    [fetchPage],
  );

  useEffect(() => {
    void load(null);
  }, [load, version]);

  return {
    items,
    setItems,
    next,
    problem,
    more: () => void load(next),
    reload: () => setVersion((v) => v + 1),
  };
}

/**
 * A paged list's table: its problem, a spinner until the first page, the header cells and the
 * rows given, a line when the list is empty, and "Show more" while pages remain. Test ids derive
 * from `testId`: `-error`, `-table`, `-empty`, `-more`.
 */
export function PagedTable<T>({
  list,
  testId,
  headers,
  empty,
  children,
}: {
  list: PagedList<T>;
  testId: string;
  headers: ReactNode;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  const { items, problem, next, more } = list;
  return (
    <>
      <ProblemBanner problem={problem} testId={`${testId}-error`} />
      {items === null && !problem ? (
        <Loading />
      ) : (
        items && (
          <div className="table-wrap">
            <table className="table" data-testid={`${testId}-table`}>
              <thead>
                <tr>{headers}</tr>
              </thead>
              <tbody>{children(items)}</tbody>
            </table>
            {items.length === 0 && (
              <p className="muted pad" data-testid={`${testId}-empty`}>
                {empty}
              </p>
            )}
          </div>
        )
      )}
      {next && (
        <div className="pager">
          <button className="btn btn-sm" onClick={more} data-testid={`${testId}-more`}>
            Show more
          </button>
        </div>
      )}
    </>
  );
}
