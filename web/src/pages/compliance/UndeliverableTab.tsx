// Numbers the carrier reported undeliverable (invalid or landline): never texted again.

import { useCallback, useEffect, useState } from 'react';
import { sender, type Undeliverable } from '../../senderApi';
import { formatDate, Loading, ProblemBanner, problemOf, type Problem } from '../../ui';

export function UndeliverableTab({ workspaceId }: { workspaceId: string }) {
  const [items, setItems] = useState<Undeliverable[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(
    async (cursor: string | null) => {
      try {
        const p = await sender.undeliverable(workspaceId, cursor);
        setItems((old) => (cursor && old ? [...old, ...p.items] : p.items));
        setNext(p.next_cursor);
        setProblem(null);
      } catch (e) {
        setProblem(problemOf(e));
      }
    },
    [workspaceId],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <section className="card" data-testid="undeliverable-tab">
      <p className="hint">The carrier answered that these numbers cannot get texts (error 21211 invalid, 21614 landline). Campaigns skip them.</p>
      <ProblemBanner problem={problem} testId="undeliverable-error" />
      {items === null && !problem ? (
        <Loading />
      ) : (
        items && (
          <div className="table-wrap">
            <table className="table" data-testid="undeliverable-table">
              <thead>
                <tr>
                  <th>Phone</th>
                  <th>Reason</th>
                  <th>Carrier error</th>
                  <th>Since</th>
                </tr>
              </thead>
              <tbody>
                {items.map((u) => (
                  <tr key={u.phone} data-testid="undeliverable-row" data-phone={u.phone}>
                    <td className="mono">{u.phone}</td>
                    <td>{u.reason}</td>
                    <td>{u.error_code ?? '—'}</td>
                    <td>{formatDate(u.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {items.length === 0 && (
              <p className="muted pad" data-testid="undeliverable-empty">
                No undeliverable numbers.
              </p>
            )}
          </div>
        )
      )}
      {next && (
        <div className="pager">
          <button className="btn btn-sm" onClick={() => void load(next)}>
            Show more
          </button>
        </div>
      )}
    </section>
  );
}
