/** Milliseconds per unit of an age: seconds, minutes, hours, days. */
const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The form an age is written in, for messages: a whole number and a unit. */
export const ageFormat = 'a whole number and a unit: s, m, h or d (e.g. 90s, 15m, 2h, 7d)';

/** An age such as `2h`, `15m`, `7d` or `90s` in milliseconds; undefined when the text is not one (see {@link ageFormat}). */
export function parseAge(text: string): number | undefined {
  const match = /^\s*(\d{1,9})\s*([smhd])\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
