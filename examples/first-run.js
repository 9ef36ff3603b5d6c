export const meta = {
  name: 'first-run',
  description: 'Agents read a few files of the project in parallel, say what each is for, then one sums up',
  whenToUse: 'To see a workflow run end to end: fan-out, phases, a final agent. Args: {files: [paths]}',
  phases: [{title: 'Read'}, {title: 'Sum up'}],
}

const files = args?.files ?? ['.ci/run', 'scripts/test', 'examples/first-run.js']
phase('Read')
const notes = await parallel(
  files.map((file) => () => agent(`Read the file ${file} and say in one sentence what it is for.`, {label: file})),
)
log(`${notes.filter((n) => n !== null).length} of ${files.length} files described`)
phase('Sum up')
const described = files.map((file, i) => `${file}: ${notes[i] ?? '(not read)'}`).join('\n')
const summary = await agent(`In two sentences, say what project these files belong to:\n${described}`, {
  label: 'sum up',
})
return {files: Object.fromEntries(files.map((file, i) => [file, notes[i]])), summary}
