export const meta = {
  name: 'review-code',
  description: 'Review a change or files: finders per file, hunk or area, independent verifiers vote, ranked report',
  whenToUse: `Before committing or merging a change. args: nothing (the uncommitted changes against HEAD, new
untracked files included); a base branch, tag, commit or range as a string, or {base: "main"} (what the branch
changes since its merge base with main, uncommitted work included) or {range: "A..B"}; {paths: [...]} (or a
plain list) to review whole files; {areas: [{name, files}]} to audit groups of files (find-issues does).
Options: concerns (any of general, bugs, security, error-handling, concurrency, resources, tests; default
general), rounds (finding rounds, each told what is known, until one finds nothing new; default 1), verifiers
per finding (default 3), maxFindings verified (30), maxUnits (40 files, hunks or areas), hunkLines (a file with
more changed lines is reviewed hunk by hunk; 200), title, intro, failures, caps (carried into the report).
A verifier that fails or cannot tell abstains: a finding is confirmed when more verifiers say real than not
real, refuted when more say not real, unverified on a tie. Returns {report, markdown}.`,
  phases: [
    { title: 'Scope', detail: 'list the changed files and line ranges (git_changes)' },
    { title: 'Find', detail: 'one finder per file, hunk or area and concern; rounds until nothing new' },
    { title: 'Verify', detail: 'merge duplicates, independent verifiers per finding, majority vote' },
    { title: 'Report', detail: 'ranked JSON report and Markdown' },
  ],
}

const CONCERNS = {
  general: 'real defects: bugs, security holes, unchecked errors, race conditions and resource leaks',
  bugs: 'logic bugs: off-by-one errors, wrong comparisons or conditions, wrong variables, null misuse',
  security: 'security holes: injection (SQL, shell, path), unsafe input handling, secrets in code',
  'error-handling': 'unchecked errors or return values, swallowed exceptions, missing cleanup on errors',
  concurrency: 'race conditions, unsynchronised shared state, check-then-act, deadlocks',
  resources: 'resource leaks: files, sockets, locks or connections not closed on every path',
  tests: 'tests that cannot fail, missing assertions, tests that check the wrong thing',
}
const CATEGORIES = ['bug', 'security', 'error-handling', 'concurrency', 'resource-leak', 'performance', 'tests', 'other']
const SEVERITY = { high: 3, medium: 2, low: 1 }
const FINDINGS_SCHEMA = {
  type: 'object',
  properties: {
    findings: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        properties: {
          file: { type: 'string' },
          line: { type: 'integer', minimum: 1 },
          severity: { type: 'string', enum: ['high', 'medium', 'low'] },
          category: { type: 'string', enum: CATEGORIES },
          issue: { type: 'string', maxLength: 300 },
          suggestion: { type: 'string', maxLength: 300 },
        },
        required: ['file', 'line', 'severity', 'category', 'issue', 'suggestion'],
        additionalProperties: false,
      },
    },
  },
  required: ['findings'],
  additionalProperties: false,
}
const RANGE = {
  type: 'object',
  properties: { start: { type: 'integer', minimum: 1 }, end: { type: 'integer', minimum: 1 } },
  required: ['start', 'end'],
  additionalProperties: false,
}
const SCOPE_SCHEMA = {
  type: 'object',
  properties: {
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: { path: { type: 'string' }, hunks: { type: 'array', items: RANGE } },
        required: ['path', 'hunks'],
        additionalProperties: false,
      },
    },
    skipped: { type: 'array', items: { type: 'string' } },
  },
  required: ['files'],
  additionalProperties: false,
}
const VERDICT_SCHEMA = {
  type: 'object',
  properties: {
    verdict: { type: 'string', enum: ['real', 'not-real', 'cannot-tell'] },
    reason: { type: 'string', maxLength: 300 },
  },
  required: ['verdict', 'reason'],
  additionalProperties: false,
}
// Each verifier looks from its own angle, so their votes are not copies of one another.
const ANGLES = [
  'look at what the code does at that line and say whether the problem is there.',
  'look for what would make the code correct after all: a check, a guard or handling nearby.',
  'think of an input or a sequence of calls that would trigger the problem, and whether it can happen.',
  'read the callers or the surrounding function to see whether the problem matters in practice.',
  'check the exact line: is the reported problem at this line or a few lines around it?',
]
const SLACK = 3 // a finding may sit this many lines outside a changed range
const KNOWN_IN_PROMPT = 8

let input = args
if (typeof input === 'string') {
  try {
    input = JSON.parse(input)
  } catch (e) {
    // a plain base or range, e.g. "main" or "HEAD~3..HEAD"
  }
}
if (typeof input === 'string') input = input.trim() ? { base: input.trim() } : {}
if (Array.isArray(input)) input = { paths: input }
if (!input || typeof input !== 'object') input = {}

const count = (value, fallback, lo, hi) => (Number.isInteger(value) ? Math.min(hi, Math.max(lo, value)) : fallback)
const strings = (list) => (Array.isArray(list) ? list.filter((x) => typeof x === 'string' && x.trim()) : null)
const tidy = (path) => String(path || '').trim().replace(/^\.\//, '')
const base = [input.range, input.base].find((x) => typeof x === 'string' && x.trim()) || null
const paths = strings(input.paths)
const areasGiven = Array.isArray(input.areas) ? input.areas : null
const concerns = (strings(input.concerns) || ['general']).filter((c) => CONCERNS[c])
if (!concerns.length) concerns.push('general')
const rounds = count(input.rounds, 1, 1, 10)
const verifiers = count(input.verifiers, 3, 1, ANGLES.length)
const maxFindings = count(input.maxFindings, 30, 0, 500)
const maxUnits = count(input.maxUnits, 40, 1, 1000)
const hunkLines = count(input.hunkLines, 200, 20, 100000)
const failures = Array.isArray(input.failures) ? input.failures.slice() : []
const caps = Array.isArray(input.caps) ? input.caps.slice() : []
const target = areasGiven ? 'areas' : paths ? 'paths' : base ? 'base' : 'uncommitted'
const what = {
  areas: `${areasGiven && areasGiven.length} area(s)`,
  paths: `${paths && paths.length} file(s)`,
  base: `the change from ${base}`,
  uncommitted: 'the uncommitted changes',
}[target]

async function attempt(stage, item, run) {
  try {
    const value = await run()
    if (value === null || value === undefined) failures.push({ stage, item, error: 'no result' })
    return value ?? null
  } catch (e) {
    failures.push({ stage, item, error: String((e && e.message) || e) })
    return null
  }
}

const size = (h) => h.end - h.start + 1
const describe = (ranges) => ranges.map((h) => (h.start === h.end ? `${h.start}` : `${h.start}-${h.end}`)).join(', ')

// ---- Scope: units of review, each {name, files, ranges} (ranges: changed lines of a one-file unit, or null).
phase('Scope')
let units = []
let scopeError = null
if (areasGiven) {
  for (const area of areasGiven) {
    const files = [...new Set((strings(area && area.files) || []).map(tidy))]
    if (files.length) units.push({ name: String(area.name || files[0]), files, ranges: null })
  }
} else if (paths) {
  units = [...new Set(paths.map(tidy))].map((path) => ({ name: path, files: [path], ranges: null }))
} else {
  const call = base ? `{"base": ${JSON.stringify(base)}}` : '{}'
  const scope = await attempt('scope', 'changed files', () =>
    agent(
      `Call the git_changes tool with ${call}. Return the changed files and their changed line ranges exactly as it lists them.`,
      { label: 'scope: changed files', schema: SCOPE_SCHEMA, agentType: 'change-scout' },
    ),
  )
  if (!scope) scopeError = 'could not list the changed files (see failures)'
  const seen = new Set()
  for (const file of (scope && scope.files) || []) {
    const path = tidy(file.path)
    const hunks = file.hunks.filter((h) => h.end >= h.start).sort((a, b) => a.start - b.start)
    if (!path || seen.has(path) || !hunks.length) continue
    seen.add(path)
    // A big change is reviewed hunk by hunk, in groups of at most hunkLines changed lines.
    const groups = [[]]
    for (const h of hunks) {
      const last = groups[groups.length - 1]
      if (last.length && last.reduce((n, g) => n + size(g), 0) + size(h) > hunkLines) groups.push([])
      groups[groups.length - 1].push(h)
    }
    for (const ranges of groups)
      units.push({ name: groups.length > 1 ? `${path}:${ranges[0].start}` : path, files: [path], ranges })
  }
}
if (units.length > maxUnits) {
  const dropped = units.slice(maxUnits)
  caps.push({
    what: 'files, hunks or areas reviewed',
    kept: maxUnits,
    dropped: dropped.length,
    reason: `the limit is ${maxUnits} (maxUnits; maxAreas in find-issues); not reviewed: ${dropped.map((u) => u.name).join(', ')}`,
  })
  units = units.slice(0, maxUnits)
}
const allFiles = [...new Set(units.flatMap((u) => u.files))]
log(`Scope: ${what}: ${allFiles.length} files in ${units.length} units, concerns: ${concerns.join(', ')}`)

// ---- Find: finders per unit and concern, in rounds; each round is told what is already known.
function words(text) {
  return new Set(text.toLowerCase().match(/[a-z0-9_]{3,}/g) || [])
}
function similar(a, b) {
  const x = words(a)
  const y = words(b)
  let shared = 0
  for (const w of x) if (y.has(w)) shared++
  return x.size > 0 && y.size > 0 && shared / Math.min(x.size, y.size) >= 0.5
}
// Two reports of one problem: same file, lines within 3, and the same category or much the same words.
const sameProblem = (a, b) =>
  a.file === b.file && Math.abs(a.line - b.line) <= 3 && (a.category === b.category || similar(a.issue, b.issue))

// The unit file a finding is about (models drop or add directories; a one-file unit is about its file).
function unitFile(unit, file) {
  const name = tidy(file)
  if (unit.files.includes(name)) return name
  const tail = name.split('/').pop()
  const matches = unit.files.filter((f) => f === tail || f.endsWith('/' + tail))
  return matches.length === 1 ? matches[0] : unit.files.length === 1 ? unit.files[0] : null
}
const inChange = (unit, line) => !unit.ranges || unit.ranges.some((h) => line >= h.start - SLACK && line <= h.end + SLACK)

function finderPrompt(unit, concern, known) {
  const file = JSON.stringify(unit.files[0])
  const diff = `{"path": ${file}${base ? `, "base": ${JSON.stringify(base)}` : ''}}`
  const lines = unit.ranges
    ? [
        `Review the change to ${unit.files[0]}, lines ${describe(unit.ranges)} (line numbers of the new version).`,
        `Step 1: call git_diff with ${diff} to see the change (read_file shows more of the file).`,
        `Step 2: look in the changed lines for ${CONCERNS[concern]}.`,
      ]
    : unit.files.length === 1
      ? [
          `Review the file ${unit.files[0]}.`,
          `Step 1: read it with read_file {"path": ${file}}.`,
          `Step 2: look for ${CONCERNS[concern]}.`,
        ]
      : [
          `Audit these files for ${CONCERNS[concern]}: ${unit.files.join(', ')}.`,
          `Step 1: read each file with read_file, e.g. {"path": ${file}}.`,
          `Step 2: look for those problems.`,
        ]
  lines.push(
    `Step 3: report each real defect with its file, line number, severity (high, medium or low), category, the ` +
      `issue in one sentence and a one-sentence fix. Report only defects you can point to; an empty list is a fine answer.`,
  )
  if (known.length) {
    lines.push('Already reported (do not report these again; look for others):')
    lines.push(...known.slice(0, KNOWN_IN_PROMPT).map((f) => `- ${f.file}:${f.line} ${f.issue}`))
  }
  return lines.join('\n')
}

const candidates = []
let outside = 0
let stopped = units.length ? `the round limit (${rounds}) was reached` : 'there was nothing to review'
for (let round = 1; round <= rounds && units.length; round++) {
  phase('Find')
  const jobs = units.flatMap((unit) => concerns.map((concern) => ({ unit, concern })))
  const found = await parallel(
    jobs.map(
      ({ unit, concern }) =>
        () =>
          agent(
            finderPrompt(
              unit,
              concern,
              candidates.filter((c) => unit.files.includes(c.file)),
            ),
            {
              label: `find ${rounds > 1 ? `r${round} ` : ''}${unit.name}${concern === 'general' ? '' : ' ' + concern}`,
              phase: 'Find',
              schema: FINDINGS_SCHEMA,
              agentType: 'code-reader',
            },
          ),
    ),
  )
  let fresh = 0
  let reported = 0
  found.forEach((result, i) => {
    const { unit, concern } = jobs[i]
    if (!result) {
      failures.push({ stage: `find${rounds > 1 ? ` round ${round}` : ''}`, item: `${unit.name} (${concern})`, error: 'no result' })
      return
    }
    for (const f of result.findings) {
      const file = unitFile(unit, f.file)
      if (!file || !inChange(unit, f.line)) {
        outside++
        continue
      }
      reported++
      const finding = { ...f, file, issue: f.issue.trim(), suggestion: f.suggestion.trim(), reports: 1, lines: [f.line] }
      const same = candidates.find((c) => sameProblem(c, finding))
      if (!same) {
        candidates.push(finding)
        fresh++
        continue
      }
      same.reports++
      if (!same.lines.includes(f.line)) same.lines.push(f.line)
      if (SEVERITY[f.severity] > SEVERITY[same.severity]) same.severity = f.severity
    }
  })
  log(`Find${rounds > 1 ? ` round ${round}` : ''}: ${reported} findings from ${jobs.length} finders, ${fresh} new`)
  if (!fresh) {
    stopped = `round ${round} found nothing new`
    break
  }
}

// ---- Verify: rank, cap, and let independent verifiers vote on each finding.
phase('Verify')
const byRank = (a, b) =>
  SEVERITY[b.severity] - SEVERITY[a.severity] ||
  (b.votes ? b.votes.real - b.votes.notReal : 0) - (a.votes ? a.votes.real - a.votes.notReal : 0) ||
  b.reports - a.reports ||
  (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
  a.line - b.line
candidates.sort(byRank)
const toVerify = candidates.slice(0, maxFindings)
const notVerified = candidates.slice(maxFindings)
if (notVerified.length)
  caps.push({
    what: 'findings verified',
    kept: toVerify.length,
    dropped: notVerified.length,
    reason: `maxFindings is ${maxFindings}; the lower-ranked rest are listed as not verified`,
  })

function verifierPrompt(f, k) {
  const diff = base ? ` The change under review: git_diff {"path": ${JSON.stringify(f.file)}, "base": ${JSON.stringify(base)}}.` : ''
  return (
    `Check whether this reported problem is real.\n` +
    `File: ${f.file}, line ${f.line} (${f.category}, ${f.severity} severity)\n` +
    `Reported problem: ${f.issue}\n\n` +
    `Step 1: read the code with read_file {"path": ${JSON.stringify(f.file)}, "offset": ${Math.max(1, f.line - 12)}, "limit": 30}.${diff}\n` +
    `Step 2: ${ANGLES[k]}\n` +
    `Step 3: answer "real" if the code has this problem, "not-real" if the code is correct there, or "cannot-tell" if ` +
    `you cannot check it. Give a one-sentence reason.`
  )
}
const checks = toVerify.flatMap((f, i) => Array.from({ length: verifiers }, (_, k) => ({ i, k })))
const verdicts = await parallel(
  checks.map(
    ({ i, k }) =>
      () =>
        agent(verifierPrompt(toVerify[i], k), {
          label: `verify ${toVerify[i].file}:${toVerify[i].line} #${k + 1}`,
          phase: 'Verify',
          schema: VERDICT_SCHEMA,
          agentType: 'code-verifier',
        }),
  ),
)
const sorted = { confirmed: [], refuted: [], unverified: [] }
toVerify.forEach((f, i) => {
  const votes = { real: 0, notReal: 0, abstain: 0 }
  const reasons = []
  checks.forEach((check, j) => {
    if (check.i !== i) return
    const v = verdicts[j]
    if (!v) failures.push({ stage: 'verify', item: `${f.file}:${f.line} verifier ${check.k + 1}`, error: 'no result' })
    if (v && v.verdict === 'real') votes.real++
    else if (v && v.verdict === 'not-real') votes.notReal++
    else votes.abstain++
    if (v) reasons.push(`${v.verdict}: ${v.reason}`)
  })
  const status = votes.real > votes.notReal ? 'confirmed' : votes.notReal > votes.real ? 'refuted' : 'unverified'
  sorted[status].push({ ...f, status, votes, reasons })
})
for (const list of Object.values(sorted)) list.sort(byRank)
const { confirmed, refuted, unverified } = sorted
for (const f of notVerified) unverified.push({ ...f, status: 'not verified (cap)', votes: null, reasons: [] })
log(`Verify: ${confirmed.length} confirmed, ${refuted.length} refuted, ${unverified.length} unverified`)

// ---- Report
phase('Report')
const title = typeof input.title === 'string' && input.title ? input.title : `Code review: ${what}`
const intro = strings(input.intro) || []
intro.push(`Reviewed ${what}: ${allFiles.length} file(s) in ${units.length} unit(s); concerns: ${concerns.join(', ')}.`)
if (rounds > 1) intro.push(`Finding stopped because ${stopped}.`)
if (scopeError) intro.push(`**Error:** ${scopeError}.`)
else if (!units.length) intro.push('There is nothing to review.')
if (outside) intro.push(`${outside} finding(s) outside the reviewed lines or files were left out.`)

function item(f, n) {
  const votes = f.votes ? ` (votes: ${f.votes.real} real, ${f.votes.notReal} not real, ${f.votes.abstain} abstained)` : ''
  const fix = f.suggestion ? `\n   Fix: ${f.suggestion}` : ''
  const also = f.reports > 1 ? `, reported ${f.reports} times` : ''
  return `${n + 1}. **${f.severity}** ${f.category} at \`${f.file}:${f.line}\`: ${f.issue}${fix}\n   _${f.status}${votes}${also}_`
}
const md = [`# ${title}`, '', ...intro, '', `## Findings (${confirmed.length} confirmed)`, '']
md.push(confirmed.length ? confirmed.map(item).join('\n') : 'No finding was confirmed.')
if (unverified.length) md.push('', `## Unverified (${unverified.length})`, '', unverified.map(item).join('\n'))
if (refuted.length) md.push('', `## Refuted (${refuted.length})`, '', refuted.map(item).join('\n'))
if (caps.length) md.push('', '## Limits applied', '', ...caps.map((c) => `- ${c.what}: kept ${c.kept}, dropped ${c.dropped} (${c.reason})`))
if (failures.length) md.push('', `## Failures (${failures.length})`, '', ...failures.map((f) => `- ${f.stage}: ${f.item}: ${f.error}`))

return {
  report: {
    status: scopeError ? 'error' : failures.length ? 'partial' : 'complete',
    error: scopeError,
    scope: { target, base, files: allFiles, units: units.map((u) => u.name), concerns, rounds, stopped },
    findings: confirmed,
    unverified,
    refuted,
    caps,
    failures,
    stats: {
      units: units.length,
      finders: units.length * concerns.length,
      candidates: candidates.length,
      outside,
      verified: toVerify.length,
      confirmed: confirmed.length,
      refuted: refuted.length,
      unverified: unverified.length,
      verifiersPerFinding: verifiers,
    },
  },
  markdown: md.join('\n') + '\n',
}
