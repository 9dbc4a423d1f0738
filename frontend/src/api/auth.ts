import { ref, watch } from "vue";

const STORAGE_KEY = "imgsearch.apiKey";

function stored(): string {
  try {
    return localStorage.getItem(STORAGE_KEY) ?? "";
  } catch {
    return ""; // storage disabled (private mode): the key lives for this page only
  }
}

/** The X-API-Key sent with writes; kept in localStorage so a reload keeps it. */
export const apiKey = ref(stored());
/** Opened by the header button, and by any 401 so the user sees where the key goes. */
export const keyPanelOpen = ref(false);

watch(apiKey, (key) => {
  try {
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* see stored() */
  }
});
