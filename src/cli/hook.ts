// Placeholder until the hook command lands.
export const usage = "Usage: arrakis hook";
export function run(_args: string[]): Promise<number> {
  console.error("arrakis hook: not built yet");
  return Promise.resolve(1);
}
