// Requests refused before GraphQL runs still answer as GraphQL does: a JSON
// body { errors: [{ message, extensions: { code } }] }, so a client reads
// every refusal the same way.
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import { createGraphQLError, type Plugin } from "graphql-yoga";

/**
 * yoga's CSRF prevention (requests a browser would send cross-site without
 * a preflight must carry `header`), with a code and a message that says
 * what to send.
 */
export function useCsrfPrevention(header: string): Plugin {
  const prevention = useCSRFPrevention({ requestHeaders: [header] });
  return {
    onRequestParse(payload) {
      try {
        return prevention.onRequestParse?.(payload);
      } catch {
        throw createGraphQLError(
          `Required CSRF header(s) not present: send "${header}: 1" with GET requests and with form or text/plain POSTs (JSON POSTs need none)`,
          { extensions: { code: "CSRF_HEADER_REQUIRED", http: { status: 403 } } },
        );
      }
    },
  };
}

/** A POST whose content type no request parser reads: 415 with a GraphQL error instead of an empty body. */
export function useUnsupportedMediaType(): Plugin {
  return {
    onRequestParse({ request, requestParser, endResponse, fetchAPI }) {
      if (requestParser || request.method !== "POST") return;
      const type = request.headers.get("content-type") ?? "no content type";
      const body = {
        errors: [
          {
            message: `Unsupported content type ${JSON.stringify(type)}: send application/json (or application/graphql, multipart/form-data, application/x-www-form-urlencoded)`,
            extensions: { code: "UNSUPPORTED_MEDIA_TYPE" },
          },
        ],
      };
      endResponse(
        new fetchAPI.Response(JSON.stringify(body), { status: 415, headers: { "content-type": "application/json; charset=utf-8" } }),
      );
    },
  };
}
