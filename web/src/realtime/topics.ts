// Which realtime topic a console page follows, by its path under /w/<slug>/. Pages for one
// record (a campaign, a ticket, a board) will map to `campaign:<id>` and the like.

const SECTION_TOPICS: Record<string, string> = {
  campaigns: 'grid',
  crusades: 'grid',
  inbox: 'inbox',
  tickets: 'inbox',
};

export function topicOf(pathname: string): string | null {
  const [, w, , section, id] = pathname.split('/');
  if (w !== 'w' || !section) return null;
  const single: Record<string, string> = { campaigns: 'campaign', crusades: 'crusade', tickets: 'ticket', boards: 'board' };
  if (id && id !== 'new' && single[section] && /^[A-Za-z0-9_-]+$/.test(id)) return `${single[section]}:${id}`;
  return SECTION_TOPICS[section] ?? null;
}
