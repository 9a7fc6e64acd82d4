// A module entry for spawn(): TypeScript, loaded in the thread without a build step.
export default function plusOne(x: number): number {
  return x + 1;
}

export function greet(name: string): string {
  return `hello, ${name}`;
}
