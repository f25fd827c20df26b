/**
 * One-line logs: `12:00:01.234 trainer  model m-… activated (AUC 0.97)`.
 * Components log through a {@linkcode Logger} they are given, so tests can
 * capture or silence them.
 *
 * @module
 */

/** Where a component writes what happens. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** A logger that writes to stderr with the time and the component's name. */
export function consoleLogger(component: string): Logger {
  const tag = component.padEnd(8);
  const line = (level: string, msg: string) =>
    console.error(`${new Date().toISOString().slice(11, 23)} ${tag} ${level}${msg}`);
  return { info: (m) => line("", m), warn: (m) => line("WARN ", m) };
}

/** A logger that keeps lines in memory (tests) or drops them. */
export function memoryLogger(lines: string[] = []): Logger & { lines: string[] } {
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`WARN ${m}`),
  };
}
