export const meta = {
  name: 'deep-research',
  description: 'Answer a question with cited evidence: search angles, read sources, vote on each claim, synthesize',
  whenToUse: `For a question that needs evidence from documents or the web. If the question is vague, ask
two or three clarifying questions first. args: the question as a string, or {question, sources, web, angles,
maxSources, maxClaims, claimsPerSource, votes}. sources: a folder (or list of folders) of Markdown, text, HTML
and PDF documents, searched with BM25 (default: the project; a folder outside the project must be allowed with
BOOCODE_SOURCE_DIRS). The web is searched too when a search backend is configured (BOOCODE_SEARCH_URL) and
web_search and web_fetch are allowed; web: false turns it off. Each claim carries a verbatim quote and gets
votes (default 3) from independent checkers: confirmed when more say supported than refuted, refuted when more
say refuted, unverified otherwise (a checker that fails or cannot tell never refutes). Every cap that drops
sources or claims is reported. Returns {report, markdown}.`,
  phases: [
    { title: 'Scope', detail: 'search angles for the question' },
    { title: 'Search', detail: 'one searcher per angle: local documents (BM25) and the web if configured' },
    { title: 'Read', detail: 'one reader per source: claims with verbatim quotes' },
    { title: 'Verify', detail: 'independent checkers vote on each claim' },
    { title: 'Synthesize', detail: 'answer with citations, confidence, caveats, open questions' },
  ],
}

const RELEVANCE = { high: 3, medium: 2, low: 1 }
const ANGLES_SCHEMA = {
  type: 'object',
  properties: { queries: { type: 'array', maxItems: 6, items: { type: 'string', maxLength: 120 } } },
  required: ['queries'],
  additionalProperties: false,
}
const RESULTS_SCHEMA = {
  type: 'object',
  properties: {
    results: {
      type: 'array',
      maxItems: 8,
      items: {
        type: 'object',
        properties: {
          source: { type: 'string', maxLength: 500 },
          relevance: { type: 'string', enum: ['high', 'medium', 'low'] },
        },
        required: ['source', 'relevance'],
        additionalProperties: false,
      },
    },
  },
  required: ['results'],
  additionalProperties: false,
}
const CLAIMS_SCHEMA = {
  type: 'object',
  properties: {
    claims: {
      type: 'array',
      maxItems: 6,
      items: {
        type: 'object',
        properties: { claim: { type: 'string', maxLength: 300 }, quote: { type: 'string', maxLength: 400 } },
        required: ['claim', 'quote'],
        additionalProperties: false,
      },
    },
  },
  required: ['claims'],
  additionalProperties: false,
}
const VOTE_SCHEMA = {
  type: 'object',
  properties: {
    verdict: { type: 'string', enum: ['supported', 'refuted', 'cannot-tell'] },
    reason: { type: 'string', maxLength: 300 },
  },
  required: ['verdict', 'reason'],
  additionalProperties: false,
}
const ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    answer: { type: 'string', maxLength: 2000 },
    cites: { type: 'array', maxItems: 12, items: { type: 'integer', minimum: 1 } },
    caveats: { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 300 } },
    openQuestions: { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 300 } },
  },
  required: ['answer', 'cites', 'caveats', 'openQuestions'],
  additionalProperties: false,
}
// Each checker tries a different way to catch a bad claim; none may refute what it could not check.
const CHECKS = [
  (c, read) =>
    `Check that the source really says this. Find the quote with search_docs {"query": ${JSON.stringify(c.quote.slice(0, 200))}, "path": ${JSON.stringify(c.source)}, "exact": true}${read}, and decide whether the quote supports the claim as stated.`,
  (c, read) =>
    `Look for evidence against the claim: search the sources for text that contradicts it${read}. Read the passage around the quote too.`,
  (c, read) =>
    `Read the passage around the quote in the source${read} and check that the claim does not say more than the passage does (wrong numbers, names, scope or conditions).`,
]

let input = args
if (typeof input === 'string') {
  try {
    const parsed = JSON.parse(input)
    if (parsed && typeof parsed === 'object') input = parsed
  } catch (e) {
    // the question itself
  }
}
if (typeof input === 'string') input = { question: input }
if (!input || typeof input !== 'object' || Array.isArray(input)) input = {}

const question = typeof input.question === 'string' ? input.question.trim() : ''
const limit = (value, fallback, lo, hi) => (Number.isInteger(value) ? Math.min(hi, Math.max(lo, value)) : fallback)
const folders = (Array.isArray(input.sources) ? input.sources : [input.sources || '.']).filter(
  (s) => typeof s === 'string' && s.trim(),
)
const web = input.web !== false
const angleCount = limit(input.angles, 3, 1, 6)
const maxSources = limit(input.maxSources, 8, 1, 50)
const maxClaims = limit(input.maxClaims, 16, 1, 100)
const claimsPerSource = limit(input.claimsPerSource, 4, 1, 6)
const votes = limit(input.votes, 3, 1, CHECKS.length)
const failures = []
const caps = []
const caveats = []

function render(report) {
  const md = [`# ${report.question || 'Research'}`, '']
  if (report.error) md.push(`**Error:** ${report.error}`, '')
  if (report.answer) md.push(`**Answer** (confidence: ${report.confidence})`, '', report.answer, '')
  if (report.evidence.length) {
    md.push('## Evidence', '')
    for (const e of report.evidence) {
      const v = e.votes
      md.push(`[${e.n}] ${e.claim} (\`${e.source}\`; ${e.status}, votes ${v.supported} supported, ${v.refuted} refuted, ${v.abstain} abstained)`)
      md.push(`    > ${e.quote.replace(/\s+/g, ' ')}`)
    }
    md.push('')
  }
  const section = (heading, lines) => lines.length && md.push(`## ${heading}`, '', ...lines.map((l) => `- ${l}`), '')
  section('Caveats', report.caveats)
  section('Open questions', report.openQuestions)
  section('Refuted claims', report.refuted.map((c) => `${c.claim} (\`${c.source}\`)`))
  section('Sources', report.sources.map((s) => `\`${s.source}\` (${s.kind}${s.read ? '' : ', not read'})`))
  section('Limits applied', report.caps.map((c) => `${c.what}: kept ${c.kept}, dropped ${c.dropped} (${c.reason})`))
  section('Failures', report.failures.map((f) => `${f.stage}: ${f.item}: ${f.error}`))
  return md.join('\n')
}

function finish(fields) {
  const report = {
    status: fields.error ? 'error' : failures.length ? 'partial' : 'complete',
    question,
    answer: '',
    confidence: 'low',
    evidence: [],
    refuted: [],
    caveats,
    openQuestions: [],
    sources: [],
    caps,
    failures,
    ...fields,
  }
  return { report, markdown: render(report) }
}

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

if (!question) {
  return finish({ error: 'No research question given: pass it as args (a string) or as {question: "..."}.' })
}

// ---- Scope: the question itself is always the first angle.
phase('Scope')
const planned =
  angleCount > 1 &&
  (await attempt('scope', 'search angles', () =>
    agent(
    `Question: ${question}\nWrite ${angleCount} short search queries (3 to 8 words each) that together cover this question from different angles.`,
      { label: 'scope: angles', schema: ANGLES_SCHEMA, agentType: 'text-only' },
    ),
  ))
const angles = []
for (const q of [question, ...((planned && planned.queries) || [])]) {
  const text = String(q).trim()
  if (text && !angles.some((a) => a.toLowerCase() === text.toLowerCase())) angles.push(text)
}
if (angles.length > angleCount) {
  caps.push({ what: 'search angles', kept: angleCount, dropped: angles.length - angleCount, reason: `angles is ${angleCount}; dropped: ${angles.slice(angleCount).join('; ')}` })
  angles.length = angleCount
}
log(`Scope: ${angles.length} angle(s)`)

// ---- Search: one searcher per angle; sources found by several angles rank first.
phase('Search')
const where = folders.map((f) => JSON.stringify(f)).join(' and ')
const searchPrompt = (angle) =>
  `Find documents that help answer: ${question}\n` +
  `Step 1: search with search_docs {"query": ${JSON.stringify(angle)}, "path": ${JSON.stringify(folders[0])}}` +
  (folders.length > 1 ? ` (and the same in ${where})` : '') +
  (web ? `, and with web_search {"query": ${JSON.stringify(angle)}} if you have that tool` : '') +
  `.\nStep 2: return each useful document: its path (without line numbers) or URL as source, and its relevance.`
const searched = await parallel(
  angles.map((angle, i) => () => agent(searchPrompt(angle), { label: `search ${i + 1}: ${angle.slice(0, 40)}`, phase: 'Search', schema: RESULTS_SCHEMA, agentType: 'doc-searcher' })),
)
const isUrl = (s) => /^https?:\/\//i.test(s)
// One key per document: a path without its line range, a URL without scheme, www., fragment or final slash.
function sourceKey(source) {
  const s = source.trim()
  if (isUrl(s)) return s.replace(/^https?:\/\/(www\.)?/i, '').replace(/#.*$/, '').replace(/\/+$/, '').toLowerCase()
  return s.replace(/^\.\//, '').replace(/:\d+(-\d+)?$/, '')
}
const found = new Map()
searched.forEach((result, i) => {
  if (!result) {
    failures.push({ stage: 'search', item: angles[i], error: 'no result' })
    return
  }
  for (const r of result.results) {
    const key = sourceKey(r.source)
    if (!key) continue
    const entry = found.get(key) || { source: isUrl(r.source.trim()) ? r.source.trim() : key, kind: isUrl(r.source.trim()) ? 'web' : 'local', score: 0 }
    entry.score += RELEVANCE[r.relevance]
    found.set(key, entry)
  }
})
const ranked = [...found.values()].sort((a, b) => b.score - a.score || (a.source < b.source ? -1 : 1))
const chosen = ranked.slice(0, maxSources)
if (ranked.length > maxSources)
  caps.push({ what: 'sources read', kept: maxSources, dropped: ranked.length - maxSources, reason: `maxSources is ${maxSources}; not read: ${ranked.slice(maxSources).map((s) => s.source).join(', ')}` })
log(`Search: ${ranked.length} source(s) found, ${chosen.length} to read`)

// ---- Read: claims with verbatim quotes from each source.
phase('Read')
const readPrompt = (s) =>
  `Question: ${question}\n` +
  `Step 1: read the document with ${s.kind === 'web' ? `web_fetch {"url": ${JSON.stringify(s.source)}}` : `read_doc {"path": ${JSON.stringify(s.source)}}`}.\n` +
  `Step 2: extract up to ${claimsPerSource} facts from it that help answer the question. For each fact give the ` +
  `claim in one sentence and a quote copied word for word from the document that supports it. ` +
  `If the document does not help, return an empty list.`
const read = await parallel(
  chosen.map((s) => () => agent(readPrompt(s), { label: `read ${s.source.slice(-50)}`, phase: 'Read', schema: CLAIMS_SCHEMA, agentType: 'doc-reader' })),
)
let claims = []
let unquoted = 0
read.forEach((result, i) => {
  const source = chosen[i]
  source.read = Boolean(result)
  if (!result) {
    failures.push({ stage: 'read', item: source.source, error: 'no result' })
    return
  }
  for (const c of result.claims.slice(0, claimsPerSource)) {
    if (!c.claim.trim() || !c.quote.trim()) unquoted++
    else claims.push({ claim: c.claim.trim(), quote: c.quote.trim(), source: source.source, kind: source.kind, rank: i })
  }
})
if (unquoted) caveats.push(`${unquoted} claim(s) without a supporting quote were left out.`)
if (claims.length > maxClaims) {
  caps.push({ what: 'claims checked', kept: maxClaims, dropped: claims.length - maxClaims, reason: `maxClaims is ${maxClaims}; dropped claims from the lowest-ranked sources: ${claims.slice(maxClaims).map((c) => c.claim).join(' | ')}` })
  claims = claims.slice(0, maxClaims)
}
log(`Read: ${claims.length} claim(s) from ${read.filter(Boolean).length} source(s)`)

// ---- Verify: `votes` checkers per claim.
phase('Verify')
const checkPrompt = (c, k) => {
  const readWith = c.kind === 'web' ? ` (web_fetch {"url": ${JSON.stringify(c.source)}})` : ` (read_doc {"path": ${JSON.stringify(c.source)}})`
  return (
    `Check this claim against its source.\nClaim: ${c.claim}\nSource: ${c.source}\nQuote given: "${c.quote}"\n\n` +
    `${CHECKS[k](c, readWith)}\n` +
    `Answer "supported" if the source supports the claim, "refuted" only if the source or another document ` +
    `contradicts it, or "cannot-tell" if you cannot check it. Give a one-sentence reason.`
  )
}
const jobs = claims.flatMap((c, i) => Array.from({ length: votes }, (_, k) => ({ i, k })))
const verdicts = await parallel(
  jobs.map(({ i, k }) => () => agent(checkPrompt(claims[i], k), { label: `check claim ${i + 1} #${k + 1}`, phase: 'Verify', schema: VOTE_SCHEMA, agentType: 'claim-checker' })),
)
claims.forEach((c, i) => {
  c.votes = { supported: 0, refuted: 0, abstain: 0 }
  c.reasons = []
  jobs.forEach((job, j) => {
    if (job.i !== i) return
    const v = verdicts[j]
    if (!v) failures.push({ stage: 'verify', item: `claim ${i + 1} checker ${job.k + 1}`, error: 'no result' })
    if (v && v.verdict === 'supported') c.votes.supported++
    else if (v && v.verdict === 'refuted') c.votes.refuted++
    else c.votes.abstain++
    if (v) c.reasons.push(`${v.verdict}: ${v.reason}`)
  })
  c.status = c.votes.supported > c.votes.refuted ? 'confirmed' : c.votes.refuted > c.votes.supported ? 'refuted' : 'unverified'
  c.confidence = c.status !== 'confirmed' ? 'low' : c.votes.supported >= 2 && !c.votes.refuted ? 'high' : 'medium'
})
const order = { confirmed: 0, unverified: 1 }
const evidence = claims
  .filter((c) => c.status !== 'refuted')
  .sort((a, b) => order[a.status] - order[b.status] || a.rank - b.rank)
  .map((c, i) => ({ n: i + 1, claim: c.claim, quote: c.quote, source: c.source, kind: c.kind, status: c.status, votes: c.votes, confidence: c.confidence, reasons: c.reasons }))
const refuted = claims.filter((c) => c.status === 'refuted').map(({ rank, ...c }) => c)
const confirmed = evidence.filter((e) => e.status === 'confirmed')
log(`Verify: ${confirmed.length} confirmed, ${refuted.length} refuted, ${evidence.length - confirmed.length} unverified`)

// ---- Synthesize
phase('Synthesize')
const webUsed = chosen.filter((s) => s.kind === 'web').length
if (!web) caveats.push('Web search was not requested (web: false); only local documents were searched.')
else if (!webUsed)
  caveats.push(
    `No web sources were used: the web is searched only when a search backend is configured (BOOCODE_SEARCH_URL) and web_search and web_fetch are allowed; local documents in ${folders.join(', ')} were searched.`,
  )
if (evidence.length > confirmed.length) caveats.push(`${evidence.length - confirmed.length} piece(s) of evidence could not be confirmed (marked unverified).`)
const sources = ranked.map((s) => ({ source: s.source, kind: s.kind, score: s.score, read: Boolean(s.read) }))
if (!evidence.length) {
  return finish({ answer: 'No supporting evidence was found in the sources searched.', sources, refuted })
}
const listing = evidence.map((e) => `[${e.n}] ${e.claim} (${e.status})`).join('\n')
const written = await attempt('synthesize', 'answer', () =>
  agent(
    `Question: ${question}\nEvidence:\n${listing}\n\n` +
      `Answer the question in 2 to 5 sentences using only this evidence, and cite it by number like [1]; ` +
      `list the numbers of the evidence the answer rests on in cites. ` +
      `Prefer confirmed evidence. Then list caveats (what is uncertain) and open questions (what the evidence does not answer).`,
    { label: 'synthesize', schema: ANSWER_SCHEMA, agentType: 'text-only' },
  ),
)
let answer
let openQuestions = []
if (written) {
  // Citations must name evidence that exists; others are removed and reported.
  let bad = 0
  answer = written.answer.replace(/\[(\d+)\]/g, (m, n) => (evidence[Number(n) - 1] ? m : (bad++, '')))
  const listed = [...new Set(written.cites)].filter((n) => (evidence[n - 1] ? true : (bad++, false)))
  if (bad) caveats.push(`${bad} citation(s) to evidence that does not exist were removed from the answer.`)
  // An answer that names its evidence only in `cites` (small models often leave the markers out) gets them.
  if (!/\[\d+\]/.test(answer) && listed.length) answer = `${answer.trim()} ${listed.map((n) => `[${n}]`).join('')}`
  caveats.push(...written.caveats.filter((c) => c.trim()))
  openQuestions = written.openQuestions.filter((q) => q.trim())
} else {
  answer = confirmed.length
    ? confirmed.map((e) => `${e.claim} [${e.n}]`).join(' ')
    : 'The evidence found could not be confirmed; see the unverified evidence below.'
  caveats.push('The synthesis step failed: the answer lists the confirmed claims as they are.')
}
const cited = [...new Set((answer.match(/\[(\d+)\]/g) || []).map((m) => Number(m.slice(1, -1))))]
const distinct = new Set(confirmed.map((e) => e.source)).size
const confidence = confirmed.length >= 2 && distinct >= 2 && !refuted.length ? 'high' : confirmed.length ? 'medium' : 'low'
return finish({ answer, confidence, evidence, cited, refuted, openQuestions, sources, stats: { angles: angles.length, sourcesFound: ranked.length, sourcesRead: read.filter(Boolean).length, claims: claims.length, confirmed: confirmed.length, refuted: refuted.length, webSources: webUsed } })
