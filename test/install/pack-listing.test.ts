// `npm pack --dry-run` on a fresh clone (no build/, dist/ or prebuilds/) lists the prebuilt binary:
// packing makes it every time (prepack runs prebuildify), so no maintainer has to remember a
// separate step before `npm publish`. Its own suite so that jest can run it beside pack.test.ts.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildEnv, npmCli, packJson, PREBUILD, ROOT, run, stageFreshClone, supported } from './helpers';

const d = supported && !process.env.FUSELM_SKIP_INSTALL_TEST ? describe : describe.skip;

test('prepack is prebuildify, N-API and stripped; prepare compiles the TypeScript', () => {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(scripts.prepack).toBe('prebuildify --napi --strip --tag-libc');
  expect(scripts.prepare).toMatch(/^tsc -p tsconfig.json/);
});

d('npm pack --dry-run on a fresh clone', () => {
  let tmp = '';
  afterAll(() => {
    if (tmp && !process.env.FUSELM_KEEP_INSTALL_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('lists prebuilds/linux-x64/*.node and dist/, writes no tarball', () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuselm-dryrun-'));
    const stage = stageFreshClone(path.join(tmp, 'stage'));
    const out = run(process.execPath, [npmCli(), 'pack', '--dry-run', '--json'], { cwd: stage, env: buildEnv(fs.mkdtempSync(path.join(tmp, 'cache-'))), stdoutOnly: true });
    const files = packJson(out)[0].files.map((f) => f.path);
    expect(files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f))).toEqual([PREBUILD]);
    expect(files).toContain('dist/index.js');
    expect(fs.readdirSync(stage).filter((f) => f.endsWith('.tgz'))).toEqual([]);
  }, 1800000);
});
