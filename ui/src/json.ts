// json.ts — JSON that keeps integers exact. faena's numbers go up to 10^18 (count_primes'
// range, π(x) up to ~2.5·10^16), past what a double holds exactly (2^53), so JSON.parse would
// show and send rounded values. Integers beyond 2^53 become bigint here; everything else is
// what JSON.parse gives.

export type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): Json {
    const value = this.value();
    this.skip();
    if (this.pos !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(what: string): never {
    throw new SyntaxError(`invalid JSON at ${this.pos}: ${what}`);
  }

  private skip(): void {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    this.pos = SPACE.lastIndex;
  }

  private match(re: RegExp): RegExpExecArray | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m) this.pos = re.lastIndex;
    return m;
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private value(): Json {
    this.skip();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    const m = this.match(NUMBER);
    if (!m) this.fail('expected a value');
    const n = Number(m[0]);
    const integer = m[1] === undefined && m[2] === undefined;
    return integer && !Number.isSafeInteger(n) ? BigInt(m[0]) : n;
  }

  private string(): string {
    const m = this.match(STRING);
    if (!m) this.fail('bad string');
    return JSON.parse(m[0]) as string;
  }

  private array(): Json[] {
    this.pos++;
    const out: Json[] = [];
    this.skip();
    if (this.literal(']')) return out;
    for (;;) {
      out.push(this.value());
      this.skip();
      if (this.literal(']')) return out;
      if (!this.literal(',')) this.fail('expected , or ]');
    }
  }

  private object(): { [key: string]: Json } {
    this.pos++;
    const out: { [key: string]: Json } = {};
    this.skip();
    if (this.literal('}')) return out;
    for (;;) {
      this.skip();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.skip();
      if (!this.literal(':')) this.fail('expected :');
      const value = this.value();
      // As JSON.parse does: `__proto__` is a key like any other (an own property), not the
      // object's prototype.
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else out[key] = value;
      this.skip();
      if (this.literal('}')) return out;
      if (!this.literal(',')) this.fail('expected , or }');
    }
  }
}

/** Parses JSON text; integers beyond ±2^53 come back as bigint. */
export function parse(text: string): Json {
  return new Parser(text).parse();
}

/** JSON text of `value` (bigints as plain integers), indented by `indent` spaces when > 0. */
export function stringify(value: Json, indent = 0): string {
  return write(value, indent, '');
}

function write(value: Json, indent: number, pad: string): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return JSON.stringify(value);
  const inner = pad + ' '.repeat(indent);
  const open = indent > 0 ? '\n' + inner : '';
  const sep = indent > 0 ? ',\n' + inner : ',';
  const close = indent > 0 ? '\n' + pad : '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + open + value.map((v) => write(v, indent, inner)).join(sep) + close + ']';
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return '{}';
  const colon = indent > 0 ? ': ' : ':';
  const items = keys.map((k) => JSON.stringify(k) + colon + write(value[k] ?? null, indent, inner));
  return '{' + open + items.join(sep) + close + '}';
}
