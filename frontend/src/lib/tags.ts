// Image tags as the API takes them (api/schemas.py `Tag`), checked here first so a bad one is named before a request.

export const MAX_TAGS = 32;
export const MAX_TAG_LENGTH = 64;

// The server's `^[\w .:/-]+$` runs on the Rust regex engine (pydantic), whose Unicode `\w` is exactly these
// classes: "café" with a combining accent passes there, "²" does not. JavaScript's own `\w` is ASCII only. (Only
// letters newer than the server's Unicode tables differ: those it refuses with a 422.)
const TAG_PATTERN = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control} .:/-]+$/u;

/** What is wrong with one (already trimmed) tag, or null when the server will take it. */
export function tagProblem(tag: string): string | null {
  if (!tag) return "A tag cannot be empty.";
  // The server counts characters, not UTF-16 units.
  if ([...tag].length > MAX_TAG_LENGTH) return `"${tag}" is longer than ${MAX_TAG_LENGTH} characters.`;
  if (!TAG_PATTERN.test(tag)) {
    return `"${tag}" has a character a tag cannot hold: use letters, digits, spaces and _ . : / -`;
  }
  return null;
}

/** What is wrong with a whole list of tags (its first bad tag, or too many), or null. */
export function tagsProblem(tags: string[]): string | null {
  if (tags.length > MAX_TAGS) return `At most ${MAX_TAGS} tags.`;
  for (const tag of tags) {
    const problem = tagProblem(tag);
    if (problem) return problem;
  }
  return null;
}

/** Comma-separated text as tags: trimmed, empty parts dropped, each once (a tag cannot hold a comma). */
export function splitTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(",")
        .map((tag) => tag.trim())
        .filter(Boolean),
    ),
  ];
}

/** The tags with one more at the end; the same list when it is already there. */
export function withTag(tags: string[], tag: string): string[] {
  return tags.includes(tag) ? tags : [...tags, tag];
}

export function withoutTag(tags: string[], tag: string): string[] {
  return tags.filter((other) => other !== tag);
}
