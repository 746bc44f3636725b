// The corpus check's node side (`cargo xtask corpus` runs it; see xtask/src/corpus.rs).
//   node corpus.mjs prepare NPM IN            copy each package's files, and every file they
//                                             reference, into IN/<name>/ (package paths kept)
//   node corpus.mjs compare NPM IN OUT        run each script as published and as we built it
//                                             (OUT/<name>/manifest.json), compare; esbuild bytes
// `compare` prints one JSON object per package on stdout.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const keys = (o) => Object.keys(o).sort();
const round = (xs) => Array.from(xs, (x) => +x.toFixed(6));

// name: folder under IN and OUT; pkg: npm package; files: the seeds (references followed);
// scripts: `umd` (evaluated in a jsdom window, the API read from the global `global`) or
// `esm` (imported in node), each with a small API call whose result must not change.
export const PACKAGES = [
  { name: 'bootstrap', pkg: 'bootstrap',
    files: ['dist/css/bootstrap.css', 'dist/js/bootstrap.bundle.js', 'dist/js/bootstrap.esm.js'],
    scripts: [{ file: 'dist/js/bootstrap.bundle.js', umd: 'bootstrap', check: (b, w) => {
      const d = w.document.createElement('div');
      d.className = 'alert fade show';
      w.document.body.append(d);
      const alert = b.Alert.getOrCreateInstance(d);
      alert.close();
      const t = w.document.createElement('button');
      t.setAttribute('title', 'hello');
      w.document.body.append(t);
      const tip = new b.Tooltip(t);
      return [keys(b), b.Tooltip.VERSION, d.className, t.getAttribute('data-bs-original-title'), typeof tip.show];
    } }] },
  { name: 'bulma', pkg: 'bulma', files: ['css/bulma.css'] },
  { name: 'tailwindcss', pkg: 'tailwindcss', files: ['dist/tailwind.css'] },
  { name: 'purecss', pkg: 'purecss', files: ['build/pure.css', 'build/grids-responsive.css'] },
  { name: 'animate.css', pkg: 'animate.css', files: ['animate.css'] },
  { name: 'normalize.css', pkg: 'normalize.css', files: ['normalize.css'] },
  { name: 'fontawesome-free', pkg: '@fortawesome/fontawesome-free',
    files: ['css/all.css', 'css/v4-shims.css', 'js/all.js'],
    scripts: [{ file: 'js/all.js', umd: 'FontAwesome', check: (fa, w) => {
      const i = w.document.createElement('i');
      i.className = 'fa-solid fa-user';
      w.document.body.append(i);
      fa.dom.i2svg({ node: w.document.body });
      const svg = w.document.querySelector('svg');
      return [keys(fa), svg && svg.getAttribute('data-icon'), svg && svg.querySelector('path').getAttribute('d').length];
    } }] },
  { name: 'bootstrap-icons', pkg: 'bootstrap-icons', files: ['font/bootstrap-icons.css'] },
  { name: 'mdi-font', pkg: '@mdi/font', files: ['css/materialdesignicons.css'] },
  { name: 'katex', pkg: 'katex', files: ['dist/katex.css', 'dist/katex.js', 'dist/katex.mjs'],
    scripts: [
      { file: 'dist/katex.js', umd: 'katex', check: (k) => [k.version, k.renderToString('\\frac{a}{b} + \\sqrt{x^2}')] },
      { file: 'dist/katex.mjs', esm: true, check: (m) => [m.default.renderToString('e^{i\\pi} = -1')] },
    ] },
  { name: 'leaflet', pkg: 'leaflet', files: ['dist/leaflet.css', 'dist/leaflet-src.js', 'dist/leaflet-src.esm.js'],
    scripts: [
      { file: 'dist/leaflet-src.js', umd: 'L', check: (L, w) => {
        const div = w.document.createElement('div');
        w.document.body.append(div);
        const map = L.map(div).setView([51.505, -0.09], 13);
        L.marker([51.5, -0.09]).addTo(map);
        return [L.version, L.latLng(50.5, 30.5).distanceTo(L.latLng(50.6, 30.6)).toFixed(3),
          L.point(1, 2).add([3, 4]).toString(), map.getZoom(), div.querySelectorAll('.leaflet-marker-icon').length];
      } },
    ] },
  { name: 'chart.js', pkg: 'chart.js', files: ['dist/chart.umd.js'],
    scripts: [{ file: 'dist/chart.umd.js', umd: 'Chart', check: (C) => [keys(C), C.version, C.defaults.font.size, C.helpers ? keys(C.helpers).length : 0] }] },
  { name: 'd3', pkg: 'd3', files: ['dist/d3.js'],
    scripts: [{ file: 'dist/d3.js', umd: 'd3', check: (d3, w) => {
      const svg = d3.select(w.document.body).append('svg');
      svg.selectAll('circle').data([1, 2, 3]).enter().append('circle').attr('r', (d) => d * 2);
      return [keys(d3).length, d3.scaleLinear().domain([0, 10]).range([0, 100])(2.5), d3.format('.2f')(Math.PI),
        d3.csvParse('a,b\n1,2\n3,4').map((r) => r.b), d3.line()([[0, 0], [1, 1], [2, 0]]), svg.node().outerHTML];
    } }] },
  { name: 'echarts', pkg: 'echarts', files: ['dist/echarts.js'],
    scripts: [{ file: 'dist/echarts.js', umd: 'echarts', check: (e) => [keys(e), e.version, e.format.addCommas(1234567.891), e.number.round(1.23456, 2), e.color.lift('#336699', 0.2)] }] },
  { name: 'three', pkg: 'three', files: ['build/three.module.js'],
    scripts: [{ file: 'build/three.module.js', esm: true, check: (T) => {
      const box = new T.Box3().setFromPoints([new T.Vector3(1, 1, 1), new T.Vector3(-1, 2, 0)]);
      const geo = new T.BoxGeometry(1, 2, 3, 2, 2, 2);
      geo.computeBoundingSphere();
      return [keys(T).length, T.REVISION, new T.Vector3(1, 2, 3).cross(new T.Vector3(4, 5, 6)).toArray(),
        round(new T.Matrix4().makeRotationX(0.5).elements), box.getSize(new T.Vector3()).toArray(),
        geo.attributes.position.count, +geo.boundingSphere.radius.toFixed(6), new T.Color('#336699').getHexString()];
    } }] },
  { name: 'dayjs', pkg: 'dayjs', files: ['dayjs.min.js', 'plugin/utc.js', 'plugin/relativeTime.js'],
    scripts: [{ file: 'dayjs.min.js', umd: 'dayjs', check: (d) => [d('2020-01-31').add(1, 'month').format('YYYY-MM-DD'), d('2020-03-01').diff('2019-03-01', 'day'), d.isDayjs(d())] }] },
  { name: 'moment', pkg: 'moment', files: ['moment.js', 'dist/moment.js'],
    scripts: [
      { file: 'moment.js', umd: 'moment', check: (m) => [m.utc('2020-01-31T10:00:00Z').add(1, 'month').format(), m.duration(90, 'minutes').humanize(), m.utc('2024-02-29').isLeapYear()] },
      { file: 'dist/moment.js', esm: true, check: (m) => [m.default.utc('2021-06-01').startOf('week').format('YYYY-MM-DD dddd')] },
    ] },
  { name: 'luxon', pkg: 'luxon', files: ['build/global/luxon.js', 'build/es6/luxon.js'],
    scripts: [
      { file: 'build/global/luxon.js', umd: 'luxon', check: (l) => [keys(l), l.DateTime.fromISO('2020-01-01T00:00:00Z', { zone: 'utc' }).plus({ days: 40 }).toISODate(), l.Duration.fromObject({ minutes: 135 }).shiftTo('hours', 'minutes').toObject()] },
      { file: 'build/es6/luxon.js', esm: true, check: (l) => [l.Interval.fromISO('2020-01-01/2020-03-01').length('days'), l.Info.months('short', { locale: 'en' })] },
    ] },
  { name: 'jquery', pkg: 'jquery', files: ['dist/jquery.js'],
    scripts: [{ file: 'dist/jquery.js', umd: 'jQuery', check: ($) => {
      const div = $('<div><p class="a">a</p><p>b</p></div>').appendTo('body');
      div.find('p').addClass('x').first().text('changed');
      return [$.fn.jquery, div.html(), $.extend(true, { a: { b: 1 } }, { a: { c: 2 } }), $.map([1, 2, 3], (x) => x * 2)];
    } }] },
  { name: 'lodash', pkg: 'lodash', files: ['lodash.js'],
    scripts: [{ file: 'lodash.js', umd: '_', check: (_) => [_.VERSION, _.chunk([1, 2, 3, 4, 5], 2), _.template('hi <%= n %>!')({ n: 'x' }), _.camelCase('Foo Bar-baz'), _.sortBy([{ a: 3 }, { a: 1 }], 'a'), _.debounce(() => 1, 10).cancel === undefined] }] },
  { name: 'lodash-es', pkg: 'lodash-es', files: ['lodash.js'],
    scripts: [{ file: 'lodash.js', esm: true, check: (m) => [keys(m).length, m.chunk([1, 2, 3], 2), m.kebabCase('fooBar baz'), m.merge({ a: [1] }, { a: [undefined, 2] }), m.template('<%- v %>')({ v: '<b>' })] }] },
  { name: 'pdfjs-dist', pkg: 'pdfjs-dist', files: ['web/pdf_viewer.css', 'build/pdf.mjs', 'build/pdf.worker.mjs', 'legacy/build/pdf.mjs'],
    // The legacy build runs on node 20 (the modern one needs Promise.withResolvers).
    scripts: [{ file: 'legacy/build/pdf.mjs', esm: true, check: (p) => [p.version, keys(p), p.Util.makeHexColor(51, 102, 153), p.Util.normalizeRect([4, 3, 1, 2])] }] },
  { name: 'preact', pkg: 'preact', files: ['dist/preact.module.js', 'dist/preact.umd.js'],
    scripts: [
      { file: 'dist/preact.module.js', esm: true, check: (P) => {
        const v = P.h('div', { id: 'x' }, 'a', P.h('b', null, 'c'));
        return [keys(P), v.type, v.props.id, v.props.children.length, P.toChildArray([1, [2, [3]]]).length];
      } },
      { file: 'dist/preact.umd.js', umd: 'preact', check: (P, w) => {
        P.render(P.h('ul', { class: 'list' }, [1, 2].map((i) => P.h('li', { key: i }, `item ${i}`))), w.document.body);
        return [w.document.body.innerHTML];
      } },
    ] },
  { name: 'vue', pkg: 'vue', files: ['dist/vue.esm-browser.js', 'dist/vue.global.js'],
    scripts: [
      { file: 'dist/vue.esm-browser.js', esm: true, check: (V) => {
        const s = V.reactive({ a: 1, list: [1, 2] });
        const c = V.computed(() => s.a * 2 + s.list.length);
        s.a = 3;
        s.list.push(3);
        return [V.version, c.value, keys(V).length, V.isReactive(s), V.toRaw(s).list.length];
      } },
      { file: 'dist/vue.global.js', umd: 'Vue', check: (V, w) => {
        const el = w.document.createElement('div');
        w.document.body.append(el);
        V.createApp({ data: () => ({ n: 2 }), template: '<p v-for="i in n" :class="{odd: i % 2}">{{ i * 10 }}</p>' }).mount(el);
        return [el.innerHTML];
      } },
    ] },
  { name: 'highlight.js', pkg: '@highlightjs/cdn-assets', files: ['highlight.js', 'styles/github.css', 'styles/github-dark.css'],
    scripts: [{ file: 'highlight.js', umd: 'hljs', check: (h) => [h.versionString, h.highlight('const a = 1; // x\nfunction f(b) { return `${b}`; }', { language: 'javascript' }).value, h.highlightAuto('SELECT * FROM t WHERE id = 1;').language] }] },
  { name: 'nanoid', pkg: 'nanoid', files: ['index.browser.js', 'non-secure/index.js'],
    scripts: [{ file: 'index.browser.js', esm: true, check: (n) => [keys(n), n.nanoid().length, /^[A-Za-z0-9_-]{21}$/.test(n.nanoid()), n.customAlphabet('abc', 12)().length, n.urlAlphabet] }] },
];

// References a file makes to other files of its package, as the browser or node resolves them.
const CSS_URL = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)/gi;
const CSS_IMPORT = /@import\s+(?:"([^"]*)"|'([^']*)')/gi;
const SOURCE_MAP = /[#@]\s*sourceMappingURL=([^\s*'"]+)/g;
const JS_IMPORT = /(?:^|[\s;})])(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|[\s;})])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function references(file, text) {
  const found = [];
  const patterns = file.endsWith('.css') ? [CSS_URL, CSS_IMPORT, SOURCE_MAP] : [JS_IMPORT, SOURCE_MAP];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const ref = m.slice(1).find((x) => x !== undefined);
      if (ref && (ref.startsWith('./') || ref.startsWith('../') || /^[\w-][\w./-]*$/.test(ref)) && !/^[a-z]+:/i.test(ref)) {
        found.push(ref.split(/[?#]/)[0]);
      }
    }
  }
  return found;
}

function prepare(npm, into) {
  for (const p of PACKAGES) {
    const root = path.join(npm, 'node_modules', p.pkg);
    const dest = path.join(into, p.name);
    fs.rmSync(dest, { recursive: true, force: true });
    const queue = [...p.files];
    const seen = new Set();
    while (queue.length) {
      const rel = path.posix.normalize(queue.pop());
      if (seen.has(rel)) continue;
      seen.add(rel);
      const src = path.join(root, rel);
      if (!fs.existsSync(src) || !fs.statSync(src).isFile()) continue; // bare import or absent
      fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
      fs.copyFileSync(src, path.join(dest, rel));
      if (/\.(css|m?js)$/.test(rel)) {
        const text = fs.readFileSync(src, 'utf8');
        for (const ref of references(rel, text)) {
          const isJs = /\.m?js$/.test(rel);
          // A JS import without ./ is a bare specifier, not a file of this package.
          if (isJs && !ref.startsWith('.') && !text.includes(`sourceMappingURL=${ref}`)) continue;
          queue.push(path.posix.join(path.posix.dirname(rel), ref));
        }
      }
    }
  }
}

async function runUmd(file, global, check) {
  const { JSDOM, VirtualConsole } = await import(jsdomUrl);
  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', {
    runScripts: 'outside-only', pretendToBeVisual: true, url: 'http://localhost/', virtualConsole: new VirtualConsole(),
  });
  dom.window.eval(fs.readFileSync(file, 'utf8'));
  const api = dom.window[global];
  if (api === undefined) throw new Error(`no global ${global}`);
  const result = check(api, dom.window);
  dom.window.close();
  return result;
}

async function runEsm(file, check) {
  return check(await import(pathToFileURL(file).href));
}

async function run(file, script) {
  try {
    const value = script.umd ? await runUmd(file, script.umd, script.check) : await runEsm(file, script.check);
    return { ok: JSON.stringify(value) };
  } catch (e) {
    return { error: String(e && e.stack ? e.stack.split('\n').slice(0, 2).join(' | ') : e) };
  }
}

let jsdomUrl;

// Packages log (Vue's development build, for one): keep stdout for the rows.
const emit = console.log.bind(console);
for (const m of ['log', 'info', 'warn', 'debug']) console[m] = () => {};

async function compare(npm, inDir, outDir) {
  const require = createRequire(path.join(npm, 'package.json'));
  jsdomUrl = pathToFileURL(require.resolve('jsdom')).href;
  const esbuild = require('esbuild');
  const br = (buf) => zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length } }).length;
  for (const p of PACKAGES) {
    const src = path.join(inDir, p.name);
    const out = path.join(outDir, p.name);
    const row = { name: p.name, scripts: 0, failures: [], bytes: { css: [0, 0, 0, 0], js: [0, 0, 0, 0] } };
    let manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    } catch (e) {
      row.failures.push(`no manifest: ${e.message}`);
      emit(JSON.stringify(row));
      continue;
    }
    // .js files are ES modules where a script says so: both trees get the same package.json.
    for (const dir of [src, out]) fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    for (const [logical, entry] of Object.entries(manifest.assets)) {
      const kind = logical.endsWith('.css') ? 'css' : /\.m?js$/.test(logical) ? 'js' : null;
      if (!kind) continue;
      const input = fs.readFileSync(path.join(src, logical));
      // Our bytes without the content hashes in the names we refer to (esbuild keeps names).
      const ours = Buffer.from(fs.readFileSync(path.join(out, entry.path), 'utf8').replace(/\.[0-9a-f]{16}(?=\.\w+)/g, ''));
      let theirs;
      try {
        theirs = Buffer.from(esbuild.transformSync(input, { minify: true, loader: kind === 'css' ? 'css' : 'js', logLevel: 'silent' }).code);
      } catch {
        theirs = input;
      }
      const b = row.bytes[kind];
      b[0] += ours.length; b[1] += theirs.length; b[2] += br(ours); b[3] += br(theirs);
    }
    for (const script of p.scripts || []) {
      row.scripts += 1;
      const entry = manifest.assets[script.file];
      if (!entry) { row.failures.push(`${script.file}: not in the manifest`); continue; }
      const original = await run(path.join(src, script.file), script);
      const built = await run(path.join(out, entry.path), script);
      if (original.error) row.failures.push(`${script.file}: the check fails on the original: ${original.error}`);
      else if (built.error) row.failures.push(`${script.file}: ours throws: ${built.error}`);
      else if (original.ok !== built.ok) row.failures.push(`${script.file}: ours gives ${built.ok.slice(0, 300)} where the original gives ${original.ok.slice(0, 300)}`);
    }
    emit(JSON.stringify(row));
  }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'prepare' && args.length === 2) prepare(...args);
else if (cmd === 'compare' && args.length === 3) await compare(...args);
else {
  console.error('usage: node corpus.mjs prepare NPM IN | compare NPM IN OUT');
  process.exit(2);
}
