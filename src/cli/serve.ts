// Placeholder until the serve command lands.
export const usage = "Usage: arrakis serve";
export function run(_args: string[]): Promise<number> {
  console.error("arrakis serve: not built yet");
  return Promise.resolve(1);
}
