// A result's matched boxes as the API ranks them (best first): each query part's first match is its best.
import type { MatchPublic } from "../api/types";

export interface RankedMatch extends MatchPublic {
  /** The best box for its part: drawn strongly; the rest, close to it in similarity, faintly. */
  best: boolean;
}

export function rankedMatches(matches: MatchPublic[]): RankedMatch[] {
  const partsSeen = new Set<number>();
  return matches.map((match) => {
    const best = !partsSeen.has(match.part);
    partsSeen.add(match.part);
    return { ...match, best };
  });
}
