import vue from "@vitejs/plugin-vue";
import { loadEnv } from "vite";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API (IMGSEARCH_API, default :8000) so the UI keeps using relative URLs, as it does
// when the API serves dist/ itself.
export default defineConfig(({ mode }) => {
  const apiTarget = loadEnv(mode, ".", "IMGSEARCH_").IMGSEARCH_API || "http://127.0.0.1:8000";
  return {
    plugins: [vue()],
    base: "./",
    build: { outDir: "dist", emptyOutDir: true },
    server: { proxy: { "/api": apiTarget } },
    test: { include: ["src/**/*.test.ts"], environment: "node" },
  };
});
