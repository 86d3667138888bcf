// Small shared pieces of UI: loading and error states, dates, page headers.

import type { ReactNode } from 'react';
import { ApiError, errorMessage } from './api';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" data-testid="loading">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBanner({ message, testId = 'error' }: { message: string | null; testId?: string }) {
  if (!message) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid={testId}>
      {message}
    </div>
  );
}

export function PageHeader({ title, description, children }: { title: string; description?: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p className="muted">{description}</p>}
      </div>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function RoleBadge({ role }: { role: string }) {
  return <span className={`badge role-${role}`}>{role}</span>;
}

/** The centred card with the product mark that sign-in and password pages share. */
export function AuthCard({ children }: { children: ReactNode }) {
  return (
    <div className="center-page">
      <div className="card narrow auth-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Switchboard
        </div>
        {children}
      </div>
    </div>
  );
}

/** An error to show: the server's message and, when its JSON body named one, the field at fault. */
export interface Problem {
  message: string;
  field?: string;
}

export function problemOf(e: unknown): Problem {
  if (e instanceof ApiError) return { message: e.message, field: e.field };
  return { message: errorMessage(e) };
}

/** An error banner that names the field the server pointed at (`steps[0].templates[1]: …`). */
export function ProblemBanner({ problem, testId = 'error' }: { problem: Problem | null; testId?: string }) {
  if (!problem) return null;
  return (
    <div className="alert alert-error" role="alert" data-testid={testId} data-field={problem.field ?? ''}>
      {problem.field && <code className="field-name">{problem.field}</code>}
      {problem.field && ': '}
      {problem.message}
    </div>
  );
}

/** A campaign's or crusade's status as a coloured badge. */
export function StatusBadge({ status, testId = 'status' }: { status: string; testId?: string }) {
  return (
    <span className={`badge status-${status}`} data-testid={testId} data-status={status}>
      {status}
    </span>
  );
}

/** Tabs that are links: the current one is marked. */
export function Tabs({ tabs, current, onSelect }: { tabs: { id: string; label: string }[]; current: string; onSelect: (id: string) => void }) {
  return (
    <div className="tabs" role="tablist">
      {tabs.map((t) => (
        <button
          key={t.id}
          role="tab"
          aria-selected={t.id === current}
          className={`tab${t.id === current ? ' active' : ''}`}
          onClick={() => onSelect(t.id)}
          data-testid={`tab-${t.id}`}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export const formatUsd = (x: number) => `$${x.toFixed(x < 1 ? 4 : 2)}`;
export const formatCount = (n: number) => n.toLocaleString();

/** A row's destructive action: asks `question` first, runs `action`, then `onDone`; a failure goes to `onProblem`. */
export function ConfirmedAction({
  label,
  question,
  action,
  onDone,
  onProblem,
  testId,
}: {
  label: string;
  question: string;
  action: () => Promise<unknown>;
  onDone: () => void;
  onProblem: (problem: Problem) => void;
  testId: string;
}) {
  return (
    <button
      className="btn btn-sm btn-danger"
      onClick={async () => {
        if (!window.confirm(question)) return;
        try {
          await action();
          onDone();
        } catch (e) {
          onProblem(problemOf(e));
        }
      }}
      data-testid={testId}
    >
      {label}
    </button>
  );
}

/** A card's heading with its Edit and Delete buttons, each shown when its handler is given (test ids `${testId}-edit`, `${testId}-delete`). */
export function EditableHeading({ title, testId, onEdit, onDelete }: { title: string; testId: string; onEdit?: () => void; onDelete?: () => void }) {
  return (
    <div className="page-header">
      <h2>{title}</h2>
      <div className="section-actions">
        {onEdit && (
          <button className="btn btn-sm" onClick={onEdit} data-testid={`${testId}-edit`}>
            Edit
          </button>
        )}
        {onDelete && (
          <button className="btn btn-sm btn-danger" onClick={onDelete} data-testid={`${testId}-delete`}>
            Delete
          </button>
        )}
      </div>
    </div>
  );
}
