// Live counters of a campaign or a crusade: the numbers from the API's single read, then every
// `stats` event the engine's leader publishes on the record's topic (about once a second while
// it runs). A dot shows whether events are arriving.

import { useEffect, useState } from 'react';
import { COUNTER_LABELS, verdictLabel } from './labels';
import { progress, totalSkipped, type Counters } from '../../lib/counters';
import { formatCount } from '../../ui';

export function LiveCounters({ counters, lastEventAt, running }: { counters: Counters; lastEventAt: number; running: boolean }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  const live = lastEventAt > 0 && Date.now() - lastEventAt < 4000;
  const skipped = Object.entries(counters.skipped).filter(([, n]) => n > 0);
  const done = progress(counters);
  return (
    <div data-testid="live-counters" data-live={live ? 'true' : 'false'}>
      <p className="hint" data-testid="live-state">
        <span className={`live-dot${live ? ' on' : ''}`} aria-hidden="true" />
        {live ? 'Live: updated every second by the engine.' : running ? 'Waiting for the engine’s next update…' : 'Counters as of the last load.'}
      </p>
      <div className="stats-grid">
        {COUNTER_LABELS.map(([key, label]) => (
          <div key={key} className={`stat${counters[key] === 0 ? ' stat-zero' : ''}`} data-testid={`counter-${key}`} data-value={counters[key]}>
            <div className="stat-value">{formatCount(counters[key])}</div>
            <div className="stat-label">{label}</div>
          </div>
        ))}
        <div className={`stat${totalSkipped(counters) === 0 ? ' stat-zero' : ''}`} data-testid="counter-skipped" data-value={totalSkipped(counters)}>
          <div className="stat-value">{formatCount(totalSkipped(counters))}</div>
          <div className="stat-label">Skipped</div>
        </div>
      </div>
      {counters.materialized > 0 && (
        <div className="progress" title={`${Math.round(done * 100)}% final`} aria-label="Progress">
          <span style={{ width: `${done * 100}%` }} />
        </div>
      )}
      {skipped.length > 0 && (
        <div className="counts" data-testid="skipped-reasons">
          {skipped.map(([reason, n]) => (
            <span key={reason} className="count-chip" data-testid="skipped-reason" data-reason={reason} data-count={n}>
              {verdictLabel(reason)}
              <strong>{formatCount(n)}</strong>
            </span>
          ))}
        </div>
      )}
    </div>
  );
}
