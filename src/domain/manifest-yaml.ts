// Reads manifest text (YAML, or JSON, which YAML reads too) into plain data within fixed limits, so no text
// can hold the process: a one-pass pre-scan bounds the size, the YAML syntax tree is built in slices (the
// reader is a generator that pauses after each, so a server can let its event loop run) and checked for
// nodes, keys per mapping, depth and aliases before the document is built; duplicate keys take one pass.
import {
  Composer,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  Parser,
  type CST,
  type Document,
  type Node,
} from 'yaml';

/**
 * What a manifest may hold. A fleet manifest of 100 modules × 10 versions, 50 peers × 10 boundary rules and
 * 100 federated deployments is about 15,000 tokens and 14,000 nodes; the deepest field is 6 levels down.
 */
export const MANIFEST_LIMITS = {
  /** Characters of text. */
  chars: 524_288,
  /** Lines plus YAML indicators (`- `, `? `, `: `, `,`, brackets, anchors, aliases, tags, quotes), counted before parsing. */
  tokens: 20_000,
  /** Scalars, aliases, mappings and sequences, with aliases expanded. */
  nodes: 20_000,
  /** Keys of one mapping (placement weights, min, max and overrides are keyed by peer; 500 peers at most). */
  keysPerMapping: 1_000,
  /** Mappings and sequences nested in one another. */
  depth: 32,
  /** Aliases (`*name`). */
  aliases: 100,
} as const;

/** One problem with the text, located by line and column when it has a place. */
export interface ManifestTextIssue {
  path: string;
  message: string;
}

export type ManifestTextRead = { ok: true; value: unknown } | { ok: false; issues: ManifestTextIssue[] };

const SPLIT_HINT = 'declare fewer items in one manifest (several manifests can each manage part of the fleet)';

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

const WHOLE = '(manifest)';

/** Bounds what the YAML parser will do: characters, tokens and the nesting a line or flow collection opens. */
function preScan(text: string): ManifestTextIssue | null {
  const L = MANIFEST_LIMITS;
  if (text.length > L.chars) {
    return { path: WHOLE, message: `longer than ${fmt(L.chars)} characters; ${SPLIT_HINT}` };
  }
  let tokens = 1;
  let quotes = 0;
  let line = 1;
  let flowDepth = 0;
  let lineNesting = 0;
  const deep = (): ManifestTextIssue => ({
    path: `(line ${line})`,
    message: `nested more than ${L.depth} levels deep; no manifest field nests that far, check the indentation and brackets`,
  });
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 0x0a: // \n
        tokens += 1;
        line += 1;
        lineNesting = 0;
        break;
      case 0x5b: // [
      case 0x7b: // {
        tokens += 1;
        flowDepth += 1;
        if (flowDepth > L.depth) return deep();
        break;
      case 0x5d: // ]
      case 0x7d: // }
        tokens += 1;
        if (flowDepth > 0) flowDepth -= 1;
        break;
      case 0x2c: // ,
      case 0x26: // & anchor
      case 0x2a: // * alias
      case 0x21: // ! tag
      case 0x7c: // | block scalar
      case 0x3e: // > block scalar
      case 0x25: // % directive
      case 0x23: // # comment
      case 0x40: // @ reserved
      case 0x60: // ` reserved
        tokens += 1;
        break;
      case 0x22: // "
      case 0x27: // '
        quotes += 1;
        break;
      case 0x2d: // -
      case 0x3f: // ?
      case 0x3a: {
        // : — each is an indicator when followed by white space or the end (`:` also right after a JSON-like key)
        const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0x20;
        const prev = i > 0 ? text.charCodeAt(i - 1) : 0x20;
        const spaced = next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0d;
        const afterKey = c === 0x3a && (prev === 0x22 || prev === 0x27 || prev === 0x5d || prev === 0x7d);
        if (!spaced && !afterKey) break;
        tokens += 1;
        // `- - - a` and `? ? a` nest on one line
        if (c !== 0x3a && (lineNesting += 1) > L.depth) return deep();
        break;
      }
    }
  }
  tokens += Math.ceil(quotes / 2);
  if (tokens > L.tokens) {
    return {
      path: WHOLE,
      message: `more than ${fmt(L.tokens)} YAML tokens (lines, indicators such as "- " and ": ", commas, brackets, quotes, anchors, tags); ${SPLIT_HINT}`,
    };
  }
  return null;
}

/** Where `offset` is, as the located path users see for YAML errors. */
function at(lines: LineCounter, offset: number): string {
  const { line, col } = lines.linePos(offset);
  return line === 0 ? WHOLE : `(line ${line}, column ${col})`;
}

/** Checks the syntax tree before any document is built: nodes, keys per mapping, depth and aliases. */
function checkSyntaxTree(tokens: readonly CST.Token[], lines: LineCounter): ManifestTextIssue | null {
  const L = MANIFEST_LIMITS;
  let nodes = 0;
  let aliases = 0;
  const stack: Array<{ token: CST.Token | null | undefined; depth: number }> = tokens.map((token) => ({
    token,
    depth: 0,
  }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token === null || token === undefined) continue;
    switch (token.type) {
      case 'document':
        stack.push({ token: token.value, depth });
        break;
      case 'alias':
        nodes += 1;
        if ((aliases += 1) > L.aliases) {
          return {
            path: at(lines, token.offset),
            message: `more than ${L.aliases} aliases (*name); write the values out instead`,
          };
        }
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'block-scalar':
        nodes += 1;
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        nodes += 1;
        if (depth + 1 > L.depth) {
          return {
            path: at(lines, token.offset),
            message: `nested more than ${L.depth} levels deep; no manifest field nests that far, check the indentation`,
          };
        }
        const isMapping =
          token.type === 'block-map' || (token.type === 'flow-collection' && token.start.source === '{');
        if (isMapping && token.items.length > L.keysPerMapping) {
          return {
            path: at(lines, token.offset),
            message: `a mapping with more than ${fmt(L.keysPerMapping)} keys; no manifest field takes that many (placement and overrides name at most 500 peers)`,
          };
        }
        for (const item of token.items) {
          stack.push({ token: item.key, depth: depth + 1 }, { token: item.value, depth: depth + 1 });
        }
        break;
      }
      default:
        break;
    }
    if (nodes > L.nodes) {
      return { path: WHOLE, message: `more than ${fmt(L.nodes)} YAML nodes; ${SPLIT_HINT}` };
    }
  }
  return null;
}

type Located = ManifestTextIssue & { offset: number };

/** The identity two keys share when the YAML library would call them equal (same scalar value). */
function keyIdentity(key: unknown): string | null {
  if (!isScalar(key)) return null;
  const v = key.value;
  return v === null ? 'null' : `${typeof v}:${String(v)}`;
}

/**
 * One pass over the document for duplicate keys (a Set per mapping); then, when it has aliases, a second for
 * the nodes and depth it has with them expanded (each node measured once, so a chain of aliases cannot
 * multiply the work).
 */
function checkDocument(doc: Document.Parsed, lines: LineCounter): Located[] {
  const L = MANIFEST_LIMITS;
  const root = doc.contents;
  if (root === null) return [];
  const issues: Located[] = [];
  const anchors = new Map<string, Node>();
  const aliasTarget = new Map<Node, Node | undefined>();
  const children = (node: Node): Node[] => {
    if (isAlias(node)) {
      const target = aliasTarget.get(node);
      return target === undefined ? [] : [target];
    }
    if (isMap(node)) {
      const out: Node[] = [];
      for (const pair of node.items) {
        if (pair.key !== null && typeof pair.key === 'object') out.push(pair.key as Node);
        if (pair.value !== null && typeof pair.value === 'object') out.push(pair.value as Node);
      }
      return out;
    }
    return isSeq(node) ? (node.items as Node[]) : [];
  };

  // In document order: anchors as they are defined, what each alias refers to, duplicate keys.
  const order: Node[] = [root];
  while (order.length > 0) {
    const node = order.pop()!;
    if (isAlias(node)) {
      aliasTarget.set(node, anchors.get(node.source));
      continue;
    }
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const id = keyIdentity(pair.key);
        if (id === null) continue;
        if (seen.has(id)) {
          const offset = (pair.key as Node).range?.[0] ?? 0;
          issues.push({ path: at(lines, offset), message: 'Map keys must be unique', offset });
        }
        seen.add(id);
      }
    }
    const kids = children(node);
    for (let i = kids.length - 1; i >= 0; i--) order.push(kids[i]!);
  }

  // Without aliases the document is what the syntax tree check measured.
  if (aliasTarget.size === 0) return issues;
  // Post-order, memoized: nodes and depth with aliases expanded; an alias inside what it names is a cycle.
  const measured = new Map<Node, { nodes: number; depth: number }>();
  const open = new Set<Node>();
  const stack: Array<{ node: Node; entered: boolean }> = [{ node: root, entered: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (!top.entered) {
      if (measured.has(top.node)) {
        stack.pop();
        continue;
      }
      if (open.has(top.node)) {
        const offset = top.node.range?.[0] ?? 0;
        return [{ path: at(lines, offset), message: 'an alias refers to a node that contains it', offset }];
      }
      open.add(top.node);
      top.entered = true;
      for (const child of children(top.node)) stack.push({ node: child, entered: false });
      continue;
    }
    stack.pop();
    open.delete(top.node);
    let nodes = isAlias(top.node) ? 0 : 1;
    let depth = 0;
    for (const child of children(top.node)) {
      const m = measured.get(child)!;
      nodes = Math.min(nodes + m.nodes, L.nodes + 1);
      depth = Math.max(depth, m.depth);
    }
    if (isMap(top.node) || isSeq(top.node)) depth += 1;
    measured.set(top.node, { nodes, depth });
  }
  const whole = measured.get(root)!;
  if (whole.nodes > L.nodes) {
    issues.push({
      path: WHOLE,
      message: `more than ${fmt(L.nodes)} YAML nodes with its aliases (*name) expanded; use fewer aliases or ${SPLIT_HINT}`,
      offset: -1,
    });
  } else if (whole.depth > L.depth) {
    issues.push({
      path: WHOLE,
      message: `nested more than ${L.depth} levels deep with its aliases (*name) expanded; check the aliases`,
      offset: -1,
    });
  }
  return issues;
}

/**
 * How the YAML document is built from the syntax tree: without the library's duplicate-key check, which
 * compares every key of a mapping with every other (quadratic); `checkDocument` finds them in one pass.
 */
export const YAML_COMPOSE_OPTIONS = { uniqueKeys: false } as const;

/** Characters the syntax tree is built from between two turns of the event loop. */
const SLICE_CHARS = 4_096;

/** A computation that pauses (yields) between slices of work; `runSteps` runs it to the end at once. */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end without pausing. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** The YAML syntax tree of `text`, built a slice at a time (the parser streams), pausing after each slice. */
function* syntaxTree(text: string, lines: LineCounter): Steps<CST.Token[]> {
  const parser = new Parser(lines.addNewLine);
  const tokens: CST.Token[] = [];
  for (let start = 0; start < text.length; start += SLICE_CHARS) {
    if (start > 0) yield;
    for (const token of parser.parse(text.slice(start, start + SLICE_CHARS), true)) tokens.push(token);
  }
  for (const token of parser.parse('', false)) tokens.push(token);
  return tokens;
}

/**
 * Reads manifest text into plain data, or every problem located by line and column, pausing between slices
 * of the syntax tree. Linear in the text: duplicate keys are checked here (the YAML library's own check
 * compares every pair of keys).
 */
export function* readManifestText(text: string): Steps<ManifestTextRead> {
  const scanned = preScan(text);
  if (scanned !== null) return { ok: false, issues: [scanned] };
  const lines = new LineCounter();
  const tokens = yield* syntaxTree(text, lines);
  const refused = checkSyntaxTree(tokens, lines);
  if (refused !== null) return { ok: false, issues: [refused] };

  let doc: Document.Parsed | null = null;
  const composer = new Composer(YAML_COMPOSE_OPTIONS);
  for (const next of composer.compose(tokens, true, text.length)) {
    if (doc === null) {
      doc = next;
    } else {
      const offset = next.range[0];
      return {
        ok: false,
        issues: [{ path: at(lines, offset), message: 'Source contains multiple documents; declare one manifest' }],
      };
    }
  }
  if (doc === null) return { ok: true, value: null };
  const located: Located[] = doc.errors.map((e) => ({
    path: e.pos[0] === -1 ? WHOLE : at(lines, e.pos[0]),
    message: e.message.split('\n')[0] ?? e.message,
    offset: e.pos[0],
  }));
  located.push(...checkDocument(doc, lines));
  if (located.length > 0) {
    located.sort((a, b) => a.offset - b.offset);
    return { ok: false, issues: located.map(({ path, message }) => ({ path, message })) };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MANIFEST_LIMITS.aliases }) };
  } catch (err) {
    return { ok: false, issues: [{ path: WHOLE, message: (err as Error).message }] };
  }
}
