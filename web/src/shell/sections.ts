// The console's sections, in navigation order. Sections marked `empty` are not built yet
// and show an honest empty state instead of invented data.

export interface Section {
  path: string;
  label: string;
  empty?: { title: string; body: string };
}

export const SECTIONS: Section[] = [
  { path: 'campaigns', label: 'Campaigns' },
  { path: 'crusades', label: 'Crusades' },
  { path: 'leads', label: 'Leads' },
  { path: 'compliance', label: 'Compliance' },
  {
    path: 'inbox',
    label: 'Inbox',
    empty: {
      title: 'The inbox arrives with inbound messaging.',
      body: 'Replies will land here as conversations, one per pair of numbers, with the whole thread, unread counts and assignees. This section is not available yet.',
    },
  },
  {
    path: 'tickets',
    label: 'Tickets',
    empty: {
      title: 'Tickets arrive with the inbox.',
      body: 'Conversations will become tickets with one owner, parallel escalations to experts and live SLA timers. This section is not available yet.',
    },
  },
  {
    path: 'boards',
    label: 'Boards',
    empty: {
      title: 'Pipeline boards are not available yet.',
      body: 'Sales teams will move deals through gated stages together here, with stage history and live moves for everyone on the board.',
    },
  },
  {
    path: 'imports',
    label: 'Imports',
    empty: {
      title: 'Imports arrive with the ingest pipeline.',
      body: 'Large CSV files from vendors will upload here in resumable chunks; every source row is kept and either accepted or rejected with a reason. This section is not available yet.',
    },
  },
  { path: 'numbers', label: 'Numbers' },
];

export const SETTINGS: { path: string; label: string }[] = [
  { path: 'settings/members', label: 'Members' },
  { path: 'settings/tokens', label: 'API tokens' },
  { path: 'settings/passkeys', label: 'Passkeys' },
  { path: 'settings/audit', label: 'Audit log' },
];
