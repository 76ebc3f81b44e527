// An amount from the API, formatted for the UI's language; the exact value
// on hover when it has more than 2 digits.
import { useI18n } from "../i18n.js";
import { formatMoney } from "../money.js";

export function Money(props: { value: string | null | undefined; currency?: boolean; class?: string }) {
  const { numberLocale } = useI18n();
  const { text, exact } = formatMoney(props.value, numberLocale, props.currency ?? true);
  return (
    <span class={`money ${exact ? "inexact" : ""} ${props.class ?? ""}`} title={exact} data-value={props.value ?? ""}>
      {text}
    </span>
  );
}
