export const meta = {
  name: 'find-issues',
  description: 'Audit a whole repository: areas by directory and size, finders per area and concern, verified',
  whenToUse: `To audit a repository or one directory of it (for a diff, use review-code). args: nothing (the
project), a directory as a string, or {path, concerns, rounds, maxAreas, areaLines, verifiers, maxFindings}.
concerns: any of bugs, security, error-handling, concurrency, resources, tests (default bugs, security,
error-handling, concurrency, tests). Finding rounds repeat, each told what is already known, until a round
finds nothing new or rounds (default 3) is reached. Files ignored by .gitignore, vendored, generated and
binary files are skipped. The finding and verification run as a nested review-code workflow, so find-issues
cannot itself be started by workflow(). Returns {report, markdown}.`,
  phases: [
    { title: 'Scope', detail: 'split the tree into areas by directory and size (repo_areas)' },
    { title: 'Find', detail: 'review-code: one finder per area and concern, rounds until nothing new' },
    { title: 'Verify', detail: 'review-code: merge duplicates, independent verifiers, majority vote' },
    { title: 'Report', detail: 'ranked JSON report and Markdown' },
  ],
}

const DEFAULT_CONCERNS = ['bugs', 'security', 'error-handling', 'concurrency', 'tests']
const AREAS_SCHEMA = {
  type: 'object',
  properties: {
    areas: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          files: { type: 'array', items: { type: 'string' } },
          lines: { type: 'integer' },
        },
        required: ['name', 'files'],
        additionalProperties: false,
      },
    },
    skipped: { type: 'object' },
  },
  required: ['areas'],
  additionalProperties: false,
}

let input = args
if (typeof input === 'string') {
  try {
    input = JSON.parse(input)
  } catch (e) {
    // a directory
  }
}
if (typeof input === 'string') input = { path: input }
if (!input || typeof input !== 'object' || Array.isArray(input)) input = {}

const limit = (value, fallback, lo, hi) => (Number.isInteger(value) ? Math.min(hi, Math.max(lo, value)) : fallback)
const root = typeof input.path === 'string' && input.path.trim() ? input.path.trim() : '.'
const maxAreas = limit(input.maxAreas, 12, 1, 200)
const areaLines = limit(input.areaLines, 1500, 50, 100000)
const failures = []
const title = `Issues in ${root === '.' ? 'the repository' : root}`

phase('Scope')
let scope = null
try {
  scope = await agent(
    `Call the repo_areas tool with {"path": ${JSON.stringify(root)}, "max_lines": ${areaLines}}. Return the areas exactly as it lists them (name and files of each).`,
    { label: 'scope: areas', schema: AREAS_SCHEMA, agentType: 'area-scout' },
  )
} catch (e) {
  failures.push({ stage: 'scope', item: 'areas', error: String((e && e.message) || e) })
}
if (!scope && !failures.length) failures.push({ stage: 'scope', item: 'areas', error: 'no result' })
// Each file is audited once, in the first area that names it; review-code caps the areas at maxAreas
// (its maxUnits) and reports the ones left out. An area over areaLines is split here, by files, into that
// many parts: the scout may have called repo_areas without max_lines (small models drop arguments).
const claimed = new Set()
const areas = []
for (const area of (scope && scope.areas) || []) {
  const files = [...new Set(area.files.map((f) => f.trim().replace(/^\.\//, '')))].filter((f) => f && !claimed.has(f))
  files.forEach((f) => claimed.add(f))
  if (!files.length) continue
  const name = area.name || files[0]
  const parts = Math.min(files.length, Math.max(1, Math.ceil((Number.isInteger(area.lines) ? area.lines : 0) / areaLines)))
  const size = Math.ceil(files.length / parts)
  for (let i = 0; i < files.length; i += size) {
    areas.push({ name: parts > 1 ? `${name} (${i / size + 1}/${Math.ceil(files.length / size)})` : name, files: files.slice(i, i + size) })
  }
}
log(`Scope: ${areas.length} areas, ${claimed.size} files (at most ${maxAreas} are audited)`)

const intro = [`Audited \`${root}\` area by area: ${areas.length} area(s) found.`]
if (!scope) intro.push('**Error:** could not split the tree into areas (see failures).')
let reviewed = null
try {
  reviewed = await workflow('review-code', {
    areas,
    concerns: Array.isArray(input.concerns) ? input.concerns : DEFAULT_CONCERNS,
    rounds: limit(input.rounds, 3, 1, 10),
    verifiers: input.verifiers,
    maxFindings: input.maxFindings,
    maxUnits: maxAreas,
    title,
    intro,
    failures,
  })
} catch (e) {
  failures.push({ stage: 'find', item: 'review-code', error: String((e && e.message) || e) })
}

phase('Report')
const audit = { path: root, areas }
if (!reviewed) {
  // The nested review-code could not run (e.g. find-issues was itself started by workflow(), which cannot nest).
  const report = { status: 'error', error: 'the audit could not run', audit, findings: [], unverified: [], refuted: [], caps: [], failures }
  const lines = failures.map((f) => `- ${f.stage}: ${f.item}: ${f.error}`)
  return { report, markdown: [`# ${title}`, '', ...intro, '', '## Failures', '', ...lines, ''].join('\n') }
}
const report = { ...reviewed.report, audit }
if (!scope) report.status = 'error'
return { report, markdown: reviewed.markdown }
