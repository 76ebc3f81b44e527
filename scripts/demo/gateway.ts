// A simulated AI gateway: the platform's features, each calling a provider's
// model with realistic token counts, every call wrapped in the client's
// guard(). The "AI call" is a sleep; everything else is real.
import type { SaldoClient, Usage } from "saldo/client";

export interface Feature {
  code: string;
  provider: string;
  model: string;
  /** Relative frequency. */
  weight: number;
  /** Prompt tokens, and the most output tokens the call may produce (its max_tokens). */
  input?: [number, number];
  maxOutput?: number;
  /** Per-request providers (search) bill requests, not tokens. */
  requests?: boolean;
}

export const FEATURES: Feature[] = [
  { code: "chat", provider: "anthropic", model: "claude-sonnet-4-5", weight: 40, input: [800, 6_000], maxOutput: 1_500 },
  { code: "summarize", provider: "openai", model: "gpt-5-mini", weight: 25, input: [6_000, 24_000], maxOutput: 800 },
  { code: "web-search", provider: "tavily", model: "search-basic", weight: 15, requests: true },
  { code: "autocomplete", provider: "openai", model: "gpt-5-nano", weight: 12, input: [200, 1_500], maxOutput: 200 },
  { code: "code-review", provider: "anthropic", model: "claude-opus-4-5", weight: 8, input: [8_000, 30_000], maxOutput: 4_000 },
];

/** A feature whose provider the demo mandate is not allowed to use. */
export const RESEARCH: Feature = {
  code: "research",
  provider: "perplexity",
  model: "sonar-pro",
  weight: 0,
  input: [2_000, 6_000],
  maxOutput: 2_000,
};

export const USERS = ["ada", "grace", "linus"];

/** A provider failure (overloaded, timed out): the call did not happen, its hold is released. */
export class ProviderFailure extends Error {
  override name = "ProviderFailure";
}

export interface Simulation {
  /** The simulated provider's latency, ms. */
  latency: [number, number];
  /** Whether this call fails at the provider. */
  fails: boolean;
}

const between = ([low, high]: [number, number]) => Math.round(low + Math.random() * (high - low));

export function pickFeature(): Feature {
  let roll = Math.random() * FEATURES.reduce((sum, f) => sum + f.weight, 0);
  for (const feature of FEATURES) {
    roll -= feature.weight;
    if (roll < 0) return feature;
  }
  return FEATURES[0];
}

/**
 * One AI call of `feature` for `userId`, through guard(): the estimate (the
 * prompt and max_tokens) is held, the call runs, its real usage is settled;
 * a provider failure releases the hold. Resolves with the booking or rejects
 * with the client's typed error (or the ProviderFailure, rethrown).
 */
export function aiCall(saldo: SaldoClient, mandateId: string, userId: string, feature: Feature, simulation: Simulation) {
  const inputTokens = feature.input ? between(feature.input) : 0;
  const estimate: Usage = feature.requests ? { requests: 1 } : { inputTokens, outputTokens: feature.maxOutput };
  const { provider, model } = feature;
  return saldo.guard({ mandateId, userId, provider, model, estimate }, async () => {
    const latency = between(simulation.latency);
    await new Promise((r) => setTimeout(r, latency));
    if (simulation.fails) throw new ProviderFailure(Math.random() < 0.5 ? "529 overloaded" : "timed out");
    const usage: Usage = feature.requests
      ? { requests: 1 }
      : { inputTokens, outputTokens: between([Math.round(feature.maxOutput! / 10), feature.maxOutput!]) };
    return { usage, metadata: { featureCode: feature.code, processingTime: latency / 1000 } };
  });
}
