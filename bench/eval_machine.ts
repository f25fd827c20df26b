/**
 * The machine an evaluation ran on (CPU, cores, OS, Deno, memory), recorded
 * in every report so its timings can be read against the hardware.
 *
 * @module
 */

/** CPU model (from lscpu), cores, OS, Deno and V8 versions, and memory when readable. */
export function machine(): Record<string, string | number> {
  // /proc/cpuinfo needs --allow-all under Deno's permission model; lscpu says the same.
  let cpu = "unknown";
  try {
    const out = new Deno.Command("lscpu", { stdout: "piped", stderr: "null" }).outputSync();
    cpu = /Model name:\s*(.*)/.exec(new TextDecoder().decode(out.stdout))?.[1]?.trim() ?? cpu;
  } catch { /* no lscpu */ }
  const m: Record<string, string | number> = {
    cpu,
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
  try {
    m.memory_gib = Math.round(Deno.systemMemoryInfo().total / 2 ** 30);
  } catch { /* no sys permission */ }
  return m;
}
