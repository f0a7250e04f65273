import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// `npm run dev` proxies /api to a running gateway (QI_API, default the run command's port).
export default defineConfig({
  plugins: [vue()],
  server: { proxy: { "/api": process.env.QI_API || "http://127.0.0.1:8000" } },
  // `npm test`: Vitest component and unit tests (tests/), in jsdom, in a zone that is not
  // Shanghai so the time tests prove the conversion.
  test: { environment: "jsdom", include: ["tests/**/*.test.ts"], env: { TZ: "America/New_York" } },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 1500,
  },
});
