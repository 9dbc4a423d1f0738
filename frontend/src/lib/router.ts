// A hash router in a few lines: three pages need no router package, and hash URLs work from any static host.
import { computed, ref } from "vue";

export type Page = "search" | "gallery" | "ingest";
export const PAGES: Page[] = ["search", "gallery", "ingest"];

const hash = ref(window.location.hash);
window.addEventListener("hashchange", () => {
  hash.value = window.location.hash;
});

function parse(value: string): { page: Page; query: URLSearchParams } {
  const [path = "", search = ""] = value.replace(/^#\/?/, "").split("?", 2);
  const page = PAGES.includes(path as Page) ? (path as Page) : "search";
  return { page, query: new URLSearchParams(search) };
}

export const route = computed(() => parse(hash.value));

export function href(page: Page, query: Record<string, string> = {}): string {
  const search = new URLSearchParams(query).toString();
  return `#/${page}${search ? `?${search}` : ""}`;
}

export function navigate(page: Page, query: Record<string, string> = {}): void {
  window.location.hash = href(page, query);
}

/** Change the address without a history entry (and without a hashchange event, so update the ref here). */
export function replaceRoute(page: Page, query: Record<string, string> = {}): void {
  const target = href(page, query);
  window.history.replaceState(window.history.state, "", target);
  hash.value = target;
}
