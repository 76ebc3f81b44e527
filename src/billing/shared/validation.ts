// Free-text inputs, checked the same way everywhere.
import { validation } from "./errors.js";

const MAX_TEXT = 500;

/** Trims optional free text; rejects over-long values. */
export function optionalText(value: string | null | undefined, field: string[]): string | null {
  const text = value?.trim() ?? "";
  if (text.length > MAX_TEXT) throw validation(`${field.at(-1)} is longer than ${MAX_TEXT} characters`, field);
  return text || null;
}

/** Trims required free text; rejects empty and over-long values. */
export function requiredText(value: string | null | undefined, field: string[]): string {
  const text = optionalText(value, field);
  if (!text) throw validation(`${field.at(-1)} must not be empty`, field);
  return text;
}
