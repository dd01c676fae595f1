import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchModule, BenchRow } from './types';

// Usage: npm run bench [-- --quick] [-- <name> …]   (names are bench/<name>.bench.ts)
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const outDir = join(__dirname, 'out');

const fmt = (v: number): string =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);

/** One section of the report, with when and how it was measured (sections of other runs are kept). */
interface Section {
  readonly date: string;
  readonly quick: boolean;
  readonly rows: BenchRow[];
}

/** The sections of earlier runs, so `npm run bench -- infer` does not erase the ingest figures. */
const earlierSections = (file: string): Record<string, Section> => {
  if (!existsSync(file)) return {};
  try {
    const report = JSON.parse(readFileSync(file, 'utf8')) as { sections?: Record<string, Section> };
    return Object.fromEntries(
      Object.entries(report.sections ?? {}).filter(
        ([, s]) => typeof s.date === 'string' && Array.isArray(s.rows),
      ),
    );
  } catch {
    return {};
  }
};

const toMarkdown = (sections: Record<string, Section>): string => {
  const lines = [
    '# mlpipe benchmarks',
    '',
    `${cpus().length} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version}`,
    '',
  ];
  for (const [section, { date, quick, rows }] of Object.entries(sections)) {
    lines.push(
      `## ${section}`,
      '',
      `${date}${quick ? ' · --quick' : ''}`,
      '',
      '| measure | value | goal | met |',
      '| --- | --- | --- | --- |',
    );
    for (const r of rows)
      lines.push(
        `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.goal ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'yes' : 'NO'} |`,
      );
    lines.push('');
  }
  return lines.join('\n');
};

const main = async (): Promise<number> => {
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.ts$/, '')))
    .sort();
  mkdirSync(outDir, { recursive: true });
  const reportFile = join(outDir, 'report.json');
  const sections = earlierSections(reportFile);
  const ran: Record<string, Section> = {};
  let failed = 0;
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    const workDir = mkdtempSync(join(tmpdir(), `mlpipe-bench-${name}-`));
    const log = (line: string) => process.stderr.write(`[${name}] ${line}\n`);
    try {
      const mod = require(join(__dirname, file)) as BenchModule;
      const rows = await mod.run({ workDir, quick, log });
      ran[name] = { date: new Date().toISOString(), quick, rows };
    } catch (error) {
      failed += 1;
      log(`failed: ${(error as Error).stack ?? String(error)}`);
      ran[name] = {
        date: new Date().toISOString(),
        quick,
        rows: [{ name: 'benchmark failed', value: Number.NaN, unit: '', details: { error: String(error) } }],
      };
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    // Written after every section so a long run that is cut short still leaves a report.
    sections[name] = ran[name] as Section;
    writeFileSync(reportFile, `${JSON.stringify({ sections }, null, 2)}\n`);
    writeFileSync(join(outDir, 'report.md'), toMarkdown(sections));
  }
  // This run's sections on the terminal; the files keep every section's latest figures.
  process.stdout.write(toMarkdown(ran));
  return failed > 0 ? 1 : 0;
};

main().then((code) => {
  process.exitCode = code;
});
