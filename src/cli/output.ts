// The CLI's one output module: what a person reads (tokens shown once, listings) goes to stdout;
// in stdio mode stdout belongs to JSON-RPC, so `toStderr` is used instead. Never through the logger.
/* eslint-disable no-console */

export function say(line: string): void {
  console.log(line);
}

export function sayErr(line: string): void {
  console.error(line);
}

/** Prints a table of rows with aligned columns. */
export function table(rows: Array<Record<string, string>>): void {
  if (rows.length === 0) {
    say('(none)');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  say(cols.map((c, i) => c.toUpperCase().padEnd(width[i]!)).join('  '));
  for (const r of rows) say(cols.map((c, i) => (r[c] ?? '').padEnd(width[i]!)).join('  '));
}
