// Posts one alert message to a Slack-compatible incoming webhook: `{"text": "..."}`.

export async function postWebhook(
  url: string,
  text: string,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "User-Agent": "arrakis-alerts" },
    body: JSON.stringify({ text }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`webhook answered HTTP ${response.status}`);
}
