// Configuration comes from the environment, validated once at start so a
// wrong value stops the server with a message that names the variable.
import { z } from "zod";
import { Decimal } from "./billing/shared/money.js";
import { parseCorsOrigins } from "./http/cors.js";
import { LOG_FORMATS, LOG_LEVELS } from "./log.js";

const DEV_JWT_SECRET = "saldo-development-secret-change-me-0123456789";

const decimalString = (name: string) =>
  z
    .string()
    .trim()
    .refine((v) => /^\d+(\.\d+)?$/.test(v), `${name} must be a non-negative decimal number such as 0.88`)
    .transform((v) => new Decimal(v));

const schema = z
  .object({
    NODE_ENV: z.string().default("development"),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "DATABASE_URL must start with postgresql://")
      .optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    // Bounds on waiting (PostgreSQL only; 0 = no limit): a money move waits at
    // most this long for its account's row lock and for each statement, and a
    // request at most this long for a pooled connection. Past them it fails
    // with SERVICE_UNAVAILABLE and books nothing.
    DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
    DATABASE_POOL_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    SALDO_DATA_DIR: z.string().min(1).default("./data"),
    JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters").optional(),
    // The longest a token may live: seconds, or a number with s, m, h or d. At most 7 days (a subscription's end is a timer).
    JWT_MAX_TTL: z
      .string()
      .trim()
      .regex(/^\d+\s*[smhd]?$/, "JWT_MAX_TTL must be a duration such as 24h, 30m, 3600 (seconds) or 7d")
      .transform((v) => Number(v.replace(/\D/g, "")) * { s: 1, m: 60, h: 3600, d: 86_400 }[/[smhd]$/.exec(v)?.[0] ?? "s"]!)
      .pipe(
        z
          .number()
          .int()
          .min(1, "JWT_MAX_TTL must be at least 1 second")
          .max(7 * 86_400, "JWT_MAX_TTL must be at most 7d"),
      )
      .prefault("24h"),
    // GraphiQL in production (it is always served otherwise); introspection still needs a token there.
    GRAPHIQL: z
      .enum(["true", "false"], "GRAPHIQL must be true or false")
      .transform((v) => v === "true")
      .optional(),
    // Origins whose pages may read answers (CORS), besides Saldo's own and, in development, localhost.
    CORS_ORIGINS: z
      .string()
      .transform((value, ctx) => {
        const origins = parseCorsOrigins(value);
        if (typeof origins === "string") ctx.addIssue({ code: "custom", message: `CORS_ORIGINS: ${origins}` });
        return typeof origins === "string" ? [] : origins;
      })
      .prefault(""),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, "REDIS_URL must start with redis://")
      .optional(),
    BILLING_TIME_ZONE: z
      .string()
      .default("Europe/Zurich")
      .refine(isTimeZone, "BILLING_TIME_ZONE must be an IANA time zone such as Europe/Zurich"),
    USD_TO_CHF: decimalString("USD_TO_CHF").prefault("0.80"),
    MARKUP_PERCENT: decimalString("MARKUP_PERCENT").prefault("50"),
    HOLD_EXPIRY_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(3600),
    STRIPE_SECRET_KEY: z.string().optional(),
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    STRIPE_API_BASE: z.string().url().optional(),
    TOPUP_MAX_CHF: decimalString("TOPUP_MAX_CHF").prefault("10000"),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, "SMTP_URL must start with smtp:// or smtps://")
      .optional(),
    MAIL_FROM: z.string().default("Saldo <billing@saldo.local>"),
    /** How long in-flight requests may take to finish after SIGTERM before their connections are cut. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
    METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
    /** Serves /metrics on this port instead of PORT. */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Read by src/log.ts before the configuration exists; validated here so that a typo stops the server. */
    LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
    LOG_FORMAT: z.enum(LOG_FORMATS).optional(),
  })
  .transform((env, ctx) => {
    if (!env.JWT_SECRET && env.NODE_ENV === "production") {
      ctx.addIssue({ code: "custom", path: ["JWT_SECRET"], message: "JWT_SECRET is required in production" });
    }
    if (env.USD_TO_CHF.isZero()) {
      ctx.addIssue({ code: "custom", path: ["USD_TO_CHF"], message: "USD_TO_CHF must be greater than 0" });
    }
    return { ...env, JWT_SECRET: env.JWT_SECRET ?? DEV_JWT_SECRET, usingDevSecret: !env.JWT_SECRET };
  });

export type Config = z.output<typeof schema>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export class ConfigError extends Error {}

/** Reads and validates the configuration; empty variables count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}
