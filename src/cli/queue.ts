// Placeholder until the queue command lands.
export const usage = "Usage: arrakis queue";
export function run(_args: string[]): Promise<number> {
  console.error("arrakis queue: not built yet");
  return Promise.resolve(1);
}
