// Numbers the carrier reported undeliverable (invalid or landline): never texted again.

import { useCallback } from 'react';
import { sender, type Undeliverable } from '../../senderApi';
import { PagedTable, usePagedList } from '../../lib/pagedList';
import { formatDate } from '../../ui';

export function UndeliverableTab({ workspaceId }: { workspaceId: string }) {
  const list = usePagedList<Undeliverable>(useCallback((cursor) => sender.undeliverable(workspaceId, cursor), [workspaceId]));

  return (
    <section className="card" data-testid="undeliverable-tab">
      <p className="hint">The carrier answered that these numbers cannot get texts (error 21211 invalid, 21614 landline). Campaigns skip them.</p>
      <PagedTable
        list={list}
        testId="undeliverable"
        empty="No undeliverable numbers."
        headers={
          <>
            <th>Phone</th>
            <th>Reason</th>
            <th>Carrier error</th>
            <th>Since</th>
          </>
        }
      >
        {(items) =>
          items.map((u) => (
            <tr key={u.phone} data-testid="undeliverable-row" data-phone={u.phone}>
              <td className="mono">{u.phone}</td>
              <td>{u.reason}</td>
              <td>{u.error_code ?? '—'}</td>
              <td>{formatDate(u.at)}</td>
            </tr>
          ))
        }
      </PagedTable>
    </section>
  );
}
