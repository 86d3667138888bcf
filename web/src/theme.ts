// Dark and light themes: the choice lives in localStorage and on <html data-theme>.

export type Theme = 'dark' | 'light';
const KEY = 'sb-theme';

export function currentTheme(): Theme {
  return document.documentElement.getAttribute('data-theme') === 'light' ? 'light' : 'dark';
}

export function applyTheme(theme: Theme) {
  document.documentElement.setAttribute('data-theme', theme);
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // Storage may be disabled; the theme still applies to this page.
  }
}
