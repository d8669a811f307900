// vite build -> dist/, which mqconsole serves (its webDir setting).
// `npm run dev` serves the sources with live reload and sends /api and /metrics to a running
// mqconsole (RK_CONSOLE, default http://127.0.0.1:8080).
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const consoleUrl = process.env.RK_CONSOLE || 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': consoleUrl, '/metrics': consoleUrl } },
})
