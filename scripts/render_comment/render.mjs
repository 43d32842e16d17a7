// Renders orgops plan comments as GitHub shows them and checks what a reviewer can read.
//
//   node render.mjs DIR
//
// Every DIR/*.md: markdown -> HTML with a GFM renderer (remark-gfm), sanitised with GitHub's
// schema (rehype-sanitize's default), code highlighted with GitHub's grammars and colours
// (starry-night), GitHub's markdown CSS, in a 782-px comment box; mermaid blocks drawn by
// mermaid (the version GitHub runs) in Debian's headless Chromium. Writes DIR/NAME.html and
// DIR/NAME.png (the comment as shown, folded sections folded) and fails (exit 1) when:
//   - a mermaid block does not parse or does not draw;
//   - a diagram is scaled below 100 % in the box, or a label's text is under 12 px;
//   - a label wraps a line orgops wrote (mermaid breaks names at `-`: `gpt-`/`4o-mini`);
//   - a destructive change of a `diff` block is not coloured (its line has no colour span);
//   - markup shows literally outside code: a backtick, `\u{3c}`, `#gt;` or `#quot;`
//     (files named `hostile*` hold names with backticks on purpose and skip this check).
// Needs Node 20, the packages of package.json (pinned) and Chromium (`CHROMIUM` or
// /usr/bin/chromium); puppeteer-core never downloads a browser.

import { readFile, writeFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { unified } from 'unified'
import remarkParse from 'remark-parse'
import remarkGfm from 'remark-gfm'
import remarkRehype from 'remark-rehype'
import rehypeRaw from 'rehype-raw'
import rehypeSanitize from 'rehype-sanitize'
import rehypeStarryNight from 'rehype-starry-night'
import rehypeStringify from 'rehype-stringify'
import puppeteer from 'puppeteer-core'

const here = path.dirname(fileURLToPath(import.meta.url))
const dir = path.resolve(process.argv[2] ?? '.')
const BOX = 782
const MIN_FONT_PX = 12

// A file of an installed package (beside this script, as render_comment.sh installs them).
function file(spec) {
  return pathToFileURL(path.join(here, 'node_modules', spec)).href
}

// `pre > code.language-mermaid` -> `pre.mermaid` holding the text, as GitHub hands the block
// to mermaid. Runs after sanitising (which drops the class).
function mermaidBlocks() {
  return (tree) => {
    const visit = (node) => {
      for (const child of node.children ?? []) {
        if (child.type === 'element' && child.tagName === 'pre') {
          const code = child.children?.[0]
          const classes = code?.properties?.className ?? []
          if (code?.tagName === 'code' && classes.includes('language-mermaid')) {
            const text = code.children.map((c) => c.value ?? '').join('')
            child.properties = { className: ['mermaid'] }
            child.children = [{ type: 'text', value: text }]
            continue
          }
        }
        visit(child)
      }
    }
    visit(tree)
  }
}

async function toHtml(markdown) {
  const body = await unified()
    .use(remarkParse)
    .use(remarkGfm)
    .use(remarkRehype, { allowDangerousHtml: true })
    .use(rehypeRaw)
    .use(rehypeSanitize)
    .use(mermaidBlocks)
    .use(rehypeStarryNight)
    .use(rehypeStringify)
    .process(markdown)
  return `<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="${file('github-markdown-css/github-markdown-light.css')}">
<link rel="stylesheet" href="${file('@wooorm/starry-night/style/light.css')}">
<style>
  body { margin: 0; background: #fff; }
  .markdown-body { box-sizing: border-box; width: ${BOX}px; padding: 16px; }
  pre.mermaid { background: #fff; padding: 0; }
</style>
<script src="${file('mermaid/dist/mermaid.min.js')}"></script>
<script>mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' })</script>
</head><body><article class="markdown-body">${String(body)}</article></body></html>`
}

// In the page: draw the diagrams, then measure.
async function check(page, name) {
  return page.evaluate(async (name, MIN_FONT_PX) => {
    const problems = []
    // Mermaid's defaults (its theme, labels as HTML), drawn here rather than on load.
    const blocks = [...document.querySelectorAll('pre.mermaid')]
    const sources = blocks.map((b) => b.textContent)
    for (const [i, source] of sources.entries()) {
      try {
        await window.mermaid.parse(source)
      } catch (e) {
        problems.push(`${name}: mermaid block ${i + 1} does not parse: ${String(e.message ?? e).split('\n')[0]}`)
      }
    }
    try {
      await window.mermaid.run({ nodes: blocks })
    } catch (e) {
      problems.push(`${name}: mermaid does not draw: ${String(e.message ?? e).split('\n')[0]}`)
    }
    for (const [i, svg] of [...document.querySelectorAll('pre.mermaid svg')].entries()) {
      const natural = svg.viewBox.baseVal.width
      const shown = svg.getBoundingClientRect().width
      const scale = natural > 0 ? shown / natural : 1
      if (scale < 0.99) {
        problems.push(`${name}: diagram ${i + 1} is scaled to ${Math.round(scale * 100)} % (${Math.round(natural)} px wide in a ${Math.round(shown)}-px box)`)
      }
      for (const label of svg.querySelectorAll('.nodeLabel')) {
        const font = parseFloat(getComputedStyle(label).fontSize) * scale
        if (font < MIN_FONT_PX) {
          problems.push(`${name}: label "${label.textContent}" is ${font.toFixed(1)} px`)
        }
        // Each line orgops wrote (between <br>) is one text node: drawn on more than one
        // line, mermaid wrapped it (inside a name).
        const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT)
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
          if (!text.textContent.trim()) continue
          const range = document.createRange()
          range.selectNodeContents(text)
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)))
          if (lines.size > 1) {
            problems.push(`${name}: label line "${text.textContent}" wraps (${lines.size} lines)`)
          }
        }
      }
    }
    // Destructive changes in diff blocks: `!` (orange) or `-` (red) lines carry a colour.
    for (const line of document.querySelectorAll('pre .pl-mc, pre .pl-md')) {
      line.dataset.coloured = '1'
    }
    for (const pre of document.querySelectorAll('div.highlight-source-diff pre, pre')) {
      if (pre.classList.contains('mermaid')) continue
      const lines = pre.textContent.split('\n')
      const coloured = [...pre.querySelectorAll('[data-coloured]')].map((s) => s.textContent)
      for (const line of lines) {
        if (/^! /.test(line) && !coloured.some((c) => c.startsWith(line.slice(0, 40)))) {
          problems.push(`${name}: destructive line shown without colour: ${line}`)
        }
      }
    }
    if (!name.startsWith('hostile')) {
      const walker = document.createTreeWalker(document.querySelector('article'), NodeFilter.SHOW_TEXT)
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement.closest('code, pre, svg')) continue
        const text = node.textContent
        for (const literal of ['`', '\\u{3c}', '#gt;', '#quot;']) {
          if (text.includes(literal)) {
            problems.push(`${name}: literal ${literal} in "${text.trim().slice(0, 80)}"`)
          }
        }
      }
    }
    return problems
  }, name, MIN_FONT_PX)
}

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none', '--allow-file-access-from-files'],
})
const problems = []
try {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.md')).sort()
  if (names.length === 0) {
    problems.push(`no *.md in ${dir}`)
  }
  for (const md of names) {
    const name = md.replace(/\.md$/, '')
    const html = await toHtml(await readFile(path.join(dir, md), 'utf8'))
    const htmlPath = path.join(dir, `${name}.html`)
    await writeFile(htmlPath, html)
    const page = await browser.newPage()
    await page.setViewport({ width: BOX, height: 900, deviceScaleFactor: 1 })
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' })
    const found = await check(page, name)
    problems.push(...found)
    const article = await page.$('article')
    await article.screenshot({ path: path.join(dir, `${name}.png`) })
    await page.close()
    console.log(`${name}: ${found.length === 0 ? 'ok' : `${found.length} problem(s)`} -> ${path.join(dir, `${name}.png`)}`)
  }
} finally {
  await browser.close()
}
for (const p of problems) console.error(p)
process.exit(problems.length === 0 ? 0 : 1)
