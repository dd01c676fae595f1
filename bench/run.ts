import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

const toMarkdown = (sections: Record<string, BenchRow[]>): string => {
  const lines = [
    '# mlpipe benchmarks',
    '',
    `${new Date().toISOString()} · ${cpus().length} cores · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version}`,
    '',
  ];
  for (const [section, rows] of Object.entries(sections)) {
    lines.push(`## ${section}`, '', '| measure | value | goal | met |', '| --- | --- | --- | --- |');
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
  const sections: Record<string, BenchRow[]> = {};
  let failed = 0;
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    const workDir = mkdtempSync(join(tmpdir(), `mlpipe-bench-${name}-`));
    const log = (line: string) => process.stderr.write(`[${name}] ${line}\n`);
    try {
      const mod = require(join(__dirname, file)) as BenchModule;
      sections[name] = await mod.run({ workDir, quick, log });
    } catch (error) {
      failed += 1;
      log(`failed: ${(error as Error).stack ?? String(error)}`);
      sections[name] = [
        { name: 'benchmark failed', value: Number.NaN, unit: '', details: { error: String(error) } },
      ];
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    // Written after every section so a long run that is cut short still leaves a report.
    writeFileSync(
      join(outDir, 'report.json'),
      `${JSON.stringify({ date: new Date().toISOString(), quick, sections }, null, 2)}\n`,
    );
    writeFileSync(join(outDir, 'report.md'), toMarkdown(sections));
  }
  process.stdout.write(toMarkdown(sections));
  return failed > 0 ? 1 : 0;
};

main().then((code) => {
  process.exitCode = code;
});
