// The dashboard's query parameters turned into read-layer requests, through the edge's one set
// of parsers: a malformed value is a 400 naming the parameter, never silently another query.
import type { WebhookStatus } from "../schema.ts";
import { BadParam, ownKey, parseInstant, parseStatuses } from "../params.ts";
import type { EventFilter } from "../read/events.ts";
import { SEARCH_KINDS, type SearchKind, type SearchQuery } from "../read/search.ts";
import { type WindowName, WINDOWS } from "../read/overview.ts";

/** The audit log's form: one status, UTC times, and the page's cursor. */
export interface EventForm {
  status?: WebhookStatus;
  event?: string;
  session?: string;
  /** The name of the API key that sent the rows. */
  key?: string;
  from?: Date;
  to?: Date;
  q?: string;
  cursor?: string;
}

export function parseWindow(text: string | undefined): WindowName {
  return ownKey("window", WINDOWS, text, "15m");
}

const trimmed = (value: string | undefined, max = 256) => value?.trim().slice(0, max) || undefined;

export function parseEventForm(query: Record<string, string | undefined>): EventForm {
  const statuses = parseStatuses("status", query.status);
  if (statuses.length > 1) throw new BadParam("status", "the page filters on one status");
  return {
    status: statuses[0],
    event: trimmed(query.event),
    session: trimmed(query.session),
    key: trimmed(query.key, 64),
    from: parseInstant("from", query.from),
    to: parseInstant("to", query.to),
    q: trimmed(query.q),
    cursor: trimmed(query.cursor, 200),
  };
}

export function eventFilterOf(form: EventForm): EventFilter {
  return { ...form, statuses: form.status ? [form.status] : undefined };
}

/** The search form: q, optional kind, project and session; `cursor` for the next page. */
export function parseSearchForm(query: Record<string, string | undefined>): SearchQuery {
  const kind = SEARCH_KINDS.find((k) => k === query.kind) as SearchKind | undefined;
  return {
    q: trimmed(query.q, 500) ?? "",
    kinds: kind ? [kind] : undefined,
    project: trimmed(query.project, 1000),
    session: trimmed(query.session),
    cursor: trimmed(query.cursor, 200),
  };
}
