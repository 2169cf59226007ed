// The dashboard's query parameters turned into read-layer requests. Pages are forgiving: a
// malformed filter value is dropped (the form shows it empty), a bad cursor is the read layer's
// 400.
import { WebhookStatus as WebhookStatusSchema } from "../schema.ts";
import type { WebhookStatus } from "../schema.ts";
import type { EventFilter } from "../read/events.ts";
import { SEARCH_KINDS, type SearchKind, type SearchQuery } from "../read/search.ts";
import { type WindowName, windowNamed } from "../read/overview.ts";

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
  return windowNamed(text) ?? "15m";
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  // datetime-local inputs carry no zone; the form labels them UTC.
  const zoned = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const trimmed = (value: string | undefined, max = 256) => value?.trim().slice(0, max) || undefined;

export function parseEventForm(query: Record<string, string | undefined>): EventForm {
  const status = WebhookStatusSchema.safeParse(query.status);
  return {
    status: status.success ? status.data : undefined,
    event: trimmed(query.event),
    session: trimmed(query.session),
    key: trimmed(query.key, 64),
    from: parseDate(query.from),
    to: parseDate(query.to),
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
