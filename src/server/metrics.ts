// Prometheus text exposition, hand-written: a few counters and one histogram need no library.

const BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  /** One ingested envelope reached a final status. */
  recordIngest(event: string | null, status: string, seconds: number): void;
  recordHttp(route: string, code: number): void;
  recordDbError(): void;
  /** One group commit ended: how many items it held and the round trips it cost. */
  recordGroup(size: number, roundTrips: number): void;
  /** A request turned away for want of a valid key (401 or 429), or a failed sign-in. */
  recordUnauthorized(): void;
  inFlight(delta: number): void;
  render(): string;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
  return body ? `{${body}}` : "";
}

/** Event names come from clients: cap how many distinct label values one process keeps. */
const MAX_EVENT_LABELS = 64;

export function createMetrics(): Metrics {
  const ingest = new Map<string, number>();
  const http = new Map<string, number>();
  const events = new Set<string>();
  const bucketCounts = new Array(BUCKETS_SECONDS.length).fill(0);
  let sum = 0;
  let count = 0;
  let duplicates = 0;
  let dbErrors = 0;
  let unauthorized = 0;
  let inFlight = 0;
  let groups = 0;
  let groupItems = 0;
  let groupRoundTrips = 0;
  const started = Date.now() / 1000;

  const eventLabel = (event: string | null) => {
    if (event === null) return "";
    if (events.has(event)) return event;
    if (events.size >= MAX_EVENT_LABELS) return "other";
    events.add(event);
    return event;
  };

  return {
    recordIngest(event, status, seconds) {
      const key = JSON.stringify([eventLabel(event), status]);
      ingest.set(key, (ingest.get(key) ?? 0) + 1);
      if (status === "DUPLICATE") duplicates++;
      sum += seconds;
      count++;
      for (let i = 0; i < BUCKETS_SECONDS.length; i++) {
        if (seconds <= BUCKETS_SECONDS[i]) bucketCounts[i]++;
      }
    },
    recordHttp(route, code) {
      const key = JSON.stringify([route, String(code)]);
      http.set(key, (http.get(key) ?? 0) + 1);
    },
    recordDbError() {
      dbErrors++;
    },
    recordUnauthorized() {
      unauthorized++;
    },
    inFlight(delta) {
      inFlight += delta;
    },
    recordGroup(size, roundTrips) {
      groups++;
      groupItems += size;
      groupRoundTrips += roundTrips;
    },
    render() {
      const out: string[] = [];
      out.push("# HELP arrakis_ingest_events_total Envelopes by event type and final status.");
      out.push("# TYPE arrakis_ingest_events_total counter");
      for (const [key, value] of ingest) {
        const [event, status] = JSON.parse(key);
        out.push(`arrakis_ingest_events_total${labels({ event, status })} ${value}`);
      }
      out.push("# HELP arrakis_ingest_duration_seconds Time from request arrival to final status.");
      out.push("# TYPE arrakis_ingest_duration_seconds histogram");
      BUCKETS_SECONDS.forEach((le, i) => {
        out.push(`arrakis_ingest_duration_seconds_bucket{le="${le}"} ${bucketCounts[i]}`);
      });
      out.push(`arrakis_ingest_duration_seconds_bucket{le="+Inf"} ${count}`);
      out.push(`arrakis_ingest_duration_seconds_sum ${sum}`);
      out.push(`arrakis_ingest_duration_seconds_count ${count}`);
      out.push("# HELP arrakis_ingest_duplicates_total Requests answered DUPLICATE.");
      out.push("# TYPE arrakis_ingest_duplicates_total counter");
      out.push(`arrakis_ingest_duplicates_total ${duplicates}`);
      out.push("# HELP arrakis_db_errors_total Database failures seen while serving requests.");
      out.push("# TYPE arrakis_db_errors_total counter");
      out.push(`arrakis_db_errors_total ${dbErrors}`);
      out.push("# HELP arrakis_ingest_groups_total Group commits (one transaction each).");
      out.push("# TYPE arrakis_ingest_groups_total counter");
      out.push(`arrakis_ingest_groups_total ${groups}`);
      out.push("# HELP arrakis_ingest_group_items_total Items written by group commits.");
      out.push("# TYPE arrakis_ingest_group_items_total counter");
      out.push(`arrakis_ingest_group_items_total ${groupItems}`);
      out.push("# HELP arrakis_ingest_round_trips_total Database round trips of group commits.");
      out.push("# TYPE arrakis_ingest_round_trips_total counter");
      out.push(`arrakis_ingest_round_trips_total ${groupRoundTrips}`);
      out.push(
        "# HELP arrakis_unauthorized_total Requests without a valid key and failed sign-ins.",
      );
      out.push("# TYPE arrakis_unauthorized_total counter");
      out.push(`arrakis_unauthorized_total ${unauthorized}`);
      out.push("# HELP arrakis_http_requests_total HTTP responses by route and status code.");
      out.push("# TYPE arrakis_http_requests_total counter");
      for (const [key, value] of http) {
        const [route, code] = JSON.parse(key);
        out.push(`arrakis_http_requests_total${labels({ route, code })} ${value}`);
      }
      out.push("# HELP arrakis_http_in_flight Requests being served now.");
      out.push("# TYPE arrakis_http_in_flight gauge");
      out.push(`arrakis_http_in_flight ${inFlight}`);
      out.push("# HELP arrakis_process_start_time_seconds Start time of the process.");
      out.push("# TYPE arrakis_process_start_time_seconds gauge");
      out.push(`arrakis_process_start_time_seconds ${started}`);
      return out.join("\n") + "\n";
    },
  };
}
