// urql keeps showing the last result while the next page loads. A list
// that pages by cursor must not show page 1's rows under "page 2", nor take
// page 1's endCursor for the next click: only a result of the variables
// asked for counts.
export function resultFor<D>(result: { data?: D; operation?: { variables: unknown } }, variables: Record<string, unknown>): D | undefined {
  const asked = (result.operation?.variables ?? {}) as Record<string, unknown>;
  return Object.entries(variables).every(([key, value]) => (asked[key] ?? null) === (value ?? null)) ? result.data : undefined;
}
