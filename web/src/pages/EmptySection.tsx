// The honest placeholder for a section that is not built yet.

import type { Section } from '../shell/sections';

export function EmptySection({ section }: { section: Section }) {
  return (
    <div className="page">
      <h1>{section.label}</h1>
      <div className="empty-state" data-testid="empty-state" data-section={section.path}>
        <h2>{section.empty?.title}</h2>
        <p className="muted">{section.empty?.body}</p>
      </div>
    </div>
  );
}
