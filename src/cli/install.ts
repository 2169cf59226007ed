// Placeholder until the install command lands.
export const usage = "Usage: arrakis install";
export function run(_args: string[]): Promise<number> {
  console.error("arrakis install: not built yet");
  return Promise.resolve(1);
}
