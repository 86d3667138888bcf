// Record events of one topic for a page: the engine leader's `stats` (about once a second while
// a campaign runs) and `status` events on `campaign:<id>` / `crusade:<id>`. The page's
// "who else is here" strip subscribes to the same topic; the client shares one subscription.

import { useEffect, useRef, useState } from 'react';
import { useRealtime } from './react';
import type { RecordEvent } from './client';

export interface LiveHandlers {
  event: (e: RecordEvent) => void;
  /** Events were lost: reload the record from the API. */
  resync?: () => void;
}

/** Follows `topic` while mounted; returns when the last event arrived (ms) and how many came. */
export function useTopicEvents(workspace: string, topic: string, handlers: LiveHandlers) {
  const client = useRealtime();
  const ref = useRef(handlers);
  ref.current = handlers;
  const [last, setLast] = useState<{ at: number; count: number }>({ at: 0, count: 0 });
  useEffect(() => {
    if (!client) return;
    return client.subscribe(
      workspace,
      topic,
      {
        event: (e) => {
          setLast((l) => ({ at: Date.now(), count: l.count + 1 }));
          ref.current.event(e);
        },
        resync: () => ref.current.resync?.(),
      },
      { page: topic },
    );
  }, [client, workspace, topic]);
  return last;
}
