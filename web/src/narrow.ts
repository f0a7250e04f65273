// Whether the window is phone-narrow (the style sheet's 800px break). Tables drop their
// secondary columns with v-if on this, not with CSS: el-table sizes its columns itself, and
// a column hidden by CSS leaves its width behind (blank space, misaligned header).
import { ref } from "vue";

const query = typeof window !== "undefined" && window.matchMedia ? window.matchMedia("(max-width: 800px)") : null;
export const narrow = ref(query ? query.matches : false);
query?.addEventListener("change", (event) => (narrow.value = event.matches));
