import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// `npm run dev` proxies /api to a running gateway (QI_API, default the run command's port).
export default defineConfig({
  plugins: [vue()],
  server: { proxy: { "/api": process.env.QI_API || "http://127.0.0.1:8000" } },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 1500,
  },
});
