// Vite config for the Switchboard console. `npm run dev` proxies the API to a local server.
import { defineConfig } from 'vite';

const target = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false },
      '/healthz': { target },
      '/readyz': { target },
      '/metrics': { target },
      '/ws': { target, ws: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      onwarn(warning, warn) {
        // react-router ships "use client" directives, which mean nothing in a plain SPA.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
