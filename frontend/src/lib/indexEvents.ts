// Pages that change the index say so; views that summarise it (the footer's counts) refresh on it.
import { ref } from "vue";

export const indexVersion = ref(0);

export function indexChanged(): void {
  indexVersion.value += 1;
}
