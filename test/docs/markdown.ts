/** Just enough Markdown reading to check the documentation against the CLI: code, links, headings. */

export interface Snippet {
  line: number
  text: string
}

export interface CommandMention extends Snippet {
  command: string
  /** Option words after the command, up to the end of its options (`--`) or of the shell command. */
  options: string[]
}

/** Every line of a fenced code block, and every inline code span outside them. */
export function codeSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = []
  let fence: string | undefined
  markdown.split('\n').forEach((text, index) => {
    const line = index + 1
    const fenceMark = /^\s*(`{3,}|~{3,})/.exec(text)?.[1]
    if (fenceMark && (fence === undefined || fenceMark.startsWith(fence))) {
      fence = fence === undefined ? fenceMark : undefined
      return
    }
    if (fence !== undefined) snippets.push({line, text})
    else for (const span of text.matchAll(/(`+)(.+?)\1/g)) snippets.push({line, text: span[2]})
  })
  return snippets
}

/**
 * What may stand just before a command in a shell line: its start (or a `$ ` prompt), an operator or
 * opening quote, a wrapper such as env or npx, or a variable assignment (`MCPAUTH_BACKUP_PASSPHRASE=… mcpauth`).
 */
const COMMAND_POSITION = [/^\s*(\$\s*)?$/, /(\||&&|;|\$\(|[`'"(])\s*$/, /(^|[\s=])(\S*\/)?(env|npx|sudo|exec|nohup)\s+$/, /(^|\s)[A-Z_][A-Z0-9_]*=\S*\s+$/]

/** `mcpauth <command> [options…]` wherever a snippet runs mcpauth (not where prose or output names it). */
export function commandMentions(snippet: Snippet): CommandMention[] {
  const mentions: CommandMention[] = []
  // A shell comment may name mcpauth in prose ("# the key as mcpauth prints it").
  const withoutComment = snippet.text.replace(/(^|\s)#.*$/, '')
  for (const match of withoutComment.matchAll(/\bmcpauth[ \t]+([a-z][a-z0-9-]*)([^|;&>)#\n]*)/g)) {
    const before = withoutComment.slice(0, match.index)
    if (!COMMAND_POSITION.some((pattern) => pattern.test(before))) continue
    const words = match[2].trim().split(/\s+/).filter(Boolean)
    const end = words.indexOf('--')
    // A closing quote belongs to the shell around the command (ssh host 'mcpauth … --force').
    const options = (end === -1 ? words : words.slice(0, end)).filter((word) => word.startsWith('-')).map((word) => word.replace(/['"]+$/, ''))
    mentions.push({...snippet, command: match[1], options})
  }
  return mentions
}

/** Targets of links that point into this repository: [text](path#anchor). */
export function relativeLinks(markdown: string): Snippet[] {
  const links: Snippet[] = []
  const withoutCode = markdown.split('\n').map((text) => text.replace(/`+[^`]*`+/g, ''))
  let inFence = false
  withoutCode.forEach((text, index) => {
    if (/^\s*(`{3,}|~{3,})/.test(text)) inFence = !inFence
    if (inFence) return
    for (const link of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!/^[a-z]+:/i.test(link[1])) links.push({line: index + 1, text: link[1]})
    }
  })
  return links
}

/** The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as "-", repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  let inFence = false
  for (const text of markdown.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(text)) inFence = !inFence
    const heading = inFence ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)?.[1]
    if (heading === undefined) continue
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}
