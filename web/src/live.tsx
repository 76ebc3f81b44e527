// Live data over graphql-sse with a state the page shows: connecting,
// connected, reconnecting (the stream broke and is being restored), or
// stopped (the API refused the subscription, e.g. FORBIDDEN).
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import type { TypedDocumentNode } from "@urql/core";
import type { Client as SseClient } from "graphql-sse";
import { requestOf } from "./client.js";
import type { ApiProblem } from "./components/problems.js";
import { useI18n } from "./i18n.js";

export type LiveState = "connecting" | "connected" | "reconnecting" | "stopped";

export const LiveClientContext = createContext<SseClient | null>(null);

export interface LiveOptions<R> {
  onData(data: R): void;
  /** After every (re)connection: events may have been missed meanwhile, so re-read. */
  onConnected?(): void;
  pause?: boolean;
}

export function useSubscription<R, V extends Record<string, unknown>>(
  document: TypedDocumentNode<R, V>,
  variables: V,
  options: LiveOptions<R>,
): { state: LiveState; problems: ApiProblem[] } {
  const client = useContext(LiveClientContext);
  const [state, setState] = useState<LiveState>("connecting");
  const [problems, setProblems] = useState<ApiProblem[]>([]);
  const handlers = useRef(options);
  handlers.current = options;
  const key = JSON.stringify(variables);

  useEffect(() => {
    if (!client || options.pause) return;
    let disposed = false;
    let refused = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let unsubscribe = () => {};
    const start = (again: boolean) => {
      setState(again ? "reconnecting" : "connecting");
      unsubscribe = client.subscribe<R>(
        requestOf(document, variables),
        {
          next: (result) => {
            if (result.errors?.length) {
              refused = true;
              setProblems(result.errors.map((e) => ({ code: (e.extensions as { code?: string } | undefined)?.code, message: e.message })));
              setState("stopped");
            } else if (result.data) {
              handlers.current.onData(result.data as R);
            }
          },
          // The stream ended (the server closed it, or gave up): try again
          // unless the API refused the subscription itself.
          error: (error) => {
            if (disposed) return;
            setProblems([{ code: "NETWORK", message: error instanceof Error ? error.message : String(error) }]);
            restart();
          },
          complete: () => {
            if (!disposed && !refused) restart();
          },
        },
        {
          connecting: (reconnecting) => setState(reconnecting || again ? "reconnecting" : "connecting"),
          connected: () => {
            setState("connected");
            setProblems([]);
            handlers.current.onConnected?.();
          },
        },
      );
    };
    const restart = () => {
      setState("reconnecting");
      timer = setTimeout(() => start(true), 1000);
    };
    start(false);
    return () => {
      disposed = true;
      clearTimeout(timer);
      unsubscribe();
    };
    // The variables are compared by value (key), not by object identity.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, document, key, options.pause]);

  return { state, problems };
}

/** The badge that says whether the page is live. */
export function LiveBadge(props: { state: LiveState }) {
  const { t } = useI18n();
  const text = { connecting: t("connecting"), connected: t("live"), reconnecting: t("reconnecting"), stopped: t("liveError") }[props.state];
  return (
    <span class={`live live-${props.state}`} data-testid="live-state" data-state={props.state} role="status">
      <span class="dot" aria-hidden="true" /> {text}
    </span>
  );
}
