// Verification levels, weakest first (cumulative); publishing a demand needs licence_reviewed.
export const LEVELS = ["format_checked", "phone_verified", "licence_reviewed", "externally_verified"] as const;

export function levelRank(level?: string | null): number {
  return level ? LEVELS.indexOf(level as (typeof LEVELS)[number]) : -1;
}
