// Checks the installed socket.io stack against the known high-severity advisories.
// `npm audit` is the usual tool, but the audit endpoint is not reachable from our machines
// (it answers 405), so CI checks the lockfile against this table instead. Keep it current.
import { readFileSync } from 'node:fs';

/** package -> lowest safe version, with the advisories that set it. */
const MINIMUM = {
  'socket.io': ['4.6.2', 'CVE-2024-38355 (unhandled error event crash)'],
  'socket.io-parser': ['4.2.3', 'CVE-2023-32695 (crafted packet crash), CVE-2022-2421'],
  'engine.io': ['6.4.2', 'CVE-2023-31125 (uncaught exception), CVE-2022-41940'],
  'engine.io-client': ['6.5.4', 'ws upgrade (CVE-2024-37890)'],
  ws: ['8.17.1', 'CVE-2024-37890 (DoS by many headers)'],
  'socket.io-client': ['4.7.5', 'parser and ws fixes'],
  pg: ['8.0.0', 'CVE-2017-16082 (code execution via crafted column names)'],
};

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
const cmp = (a, b) => {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
  return 0;
};
let bad = 0;
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  const name = path.split('node_modules/').pop();
  const rule = MINIMUM[name];
  if (!rule || entry.dev) continue;
  const ok = cmp(entry.version, rule[0]) >= 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}@${entry.version} (needs >= ${rule[0]}: ${rule[1]})`);
  if (!ok) bad++;
}
if (bad > 0) {
  console.error(`${bad} package(s) below a known advisory fix`);
  process.exit(1);
}
