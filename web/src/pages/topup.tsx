// Where Stripe sends the payer back: what happened, in words. The credit
// itself arrives by Stripe's webhook, so success says it is on its way.
import { Link } from "wouter-preact";
import { useI18n } from "../i18n.js";

export function TopUpResult(props: { outcome: "success" | "cancel" }) {
  const { t } = useI18n();
  const mandate = new URLSearchParams(location.search).get("mandate");
  return (
    <div class="shell">
      <section class={`card topup ${props.outcome}`} data-testid={`topup-${props.outcome}`}>
        <h1>{props.outcome === "success" ? t("topUpSuccess") : t("topUpCancel")}</h1>
        <p>{props.outcome === "success" ? t("topUpSuccessText") : t("topUpCancelText")}</p>
        <p>
          <Link href={`/dashboard${mandate ? `?mandate=${encodeURIComponent(mandate)}` : ""}`}>{t("backToDashboard")}</Link>
        </p>
      </section>
    </div>
  );
}
