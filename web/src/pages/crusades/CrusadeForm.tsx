// Create or edit a crusade's schedule: allowed weekdays and hours (recipient local time, always
// within the legal 08:00–21:00), start and end dates, throttle across its campaigns and jitter.

import { useState, type FormEvent } from 'react';
import { sender, type Crusade, type CrusadeInput } from '../../senderApi';
import { ProblemBanner, problemOf, type Problem } from '../../ui';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export function CrusadeForm({ workspaceId, crusade, onSaved, onCancel }: { workspaceId: string; crusade?: Crusade; onSaved: (c: Crusade) => void; onCancel?: () => void }) {
  const [name, setName] = useState(crusade?.name ?? '');
  const [days, setDays] = useState<string[]>(crusade?.days ?? DAYS);
  const [startTime, setStartTime] = useState(crusade?.start_time ?? '08:00');
  const [endTime, setEndTime] = useState(crusade?.end_time ?? '21:00');
  const [startDate, setStartDate] = useState(crusade?.start_date ?? '');
  const [endDate, setEndDate] = useState(crusade?.end_date ?? '');
  const [throttle, setThrottle] = useState(crusade?.throttle_per_minute?.toString() ?? '');
  const [jitter, setJitter] = useState(String(crusade?.jitter_seconds ?? 0));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    const body: CrusadeInput = {
      name: name.trim(),
      days: DAYS.filter((d) => days.includes(d)),
      start_time: startTime,
      end_time: endTime,
      start_date: startDate || null,
      end_date: endDate || null,
      throttle_per_minute: throttle.trim() ? Number(throttle) : null,
      jitter_seconds: Number(jitter || 0),
    };
    try {
      const saved = crusade ? await sender.updateCrusade(workspaceId, crusade.id, body) : await sender.createCrusade(workspaceId, body);
      onSaved(saved);
      if (!crusade) {
        setName('');
      }
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  const bad = (f: string) => problem?.field === f || undefined;
  return (
    <form className="form" onSubmit={submit} data-testid="crusade-form">
      <div className="form-row">
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} aria-invalid={bad('name')} data-testid="crusade-name" />
        </label>
        <label>
          From (recipient’s time)
          <input type="time" value={startTime} onChange={(e) => setStartTime(e.target.value)} aria-invalid={bad('start_time')} data-testid="crusade-start-time" />
        </label>
        <label>
          Until
          <input type="time" value={endTime} onChange={(e) => setEndTime(e.target.value)} aria-invalid={bad('end_time')} data-testid="crusade-end-time" />
        </label>
      </div>
      <div className="form-row" data-testid="crusade-days">
        {DAYS.map((d) => (
          <label className="check" key={d}>
            <input type="checkbox" checked={days.includes(d)} onChange={(e) => setDays((cur) => (e.target.checked ? [...cur, d] : cur.filter((x) => x !== d)))} data-testid={`crusade-day-${d}`} />
            {d}
          </label>
        ))}
      </div>
      <div className="form-row">
        <label>
          Start date
          <input type="date" value={startDate} onChange={(e) => setStartDate(e.target.value)} aria-invalid={bad('start_date')} data-testid="crusade-start-date" />
        </label>
        <label>
          End date
          <input type="date" value={endDate} onChange={(e) => setEndDate(e.target.value)} aria-invalid={bad('end_date')} data-testid="crusade-end-date" />
        </label>
        <label>
          Throttle (messages per minute)
          <input type="number" min={1} value={throttle} placeholder="none" onChange={(e) => setThrottle(e.target.value)} aria-invalid={bad('throttle_per_minute')} data-testid="crusade-throttle" />
        </label>
        <label>
          Jitter (seconds)
          <input type="number" min={0} value={jitter} onChange={(e) => setJitter(e.target.value)} aria-invalid={bad('jitter_seconds')} data-testid="crusade-jitter" />
        </label>
      </div>
      <p className="hint">
        Hours are the recipient’s local time and are always clipped to the legal window (08:00–21:00; 08:00–20:00 in FL and OK).
        A start date ahead keeps started campaigns scheduled until that day. Jitter spreads first messages over that many seconds.
      </p>
      <ProblemBanner problem={problem} testId="crusade-error" />
      <div className="section-actions">
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="crusade-save">
          {busy ? 'Saving…' : crusade ? 'Save changes' : 'Create crusade'}
        </button>
        {onCancel && (
          <button className="btn" type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
