/**
 * The `logical` capture mode's fast path (append-query.ts): the JSON text `to_jsonb` gives a column value,
 * computed in Node from the text the WAL carries (the type's output function, as the walsender wrote it), for the
 * common built-in types whose mapping is fixed. Payloads built from it are byte-for-byte those the SQL path
 * (`jsonb_populate_record` → `to_jsonb`) and the capture triggers produce, while the pump's backend does no per-row
 * work beyond appending: the conversion in SQL cost more than everything else the pump did per row.
 *
 * Preconditions, set by the stream (logical-source.ts): the walsender session runs with `DateStyle` ISO and the
 * pump's `TimeZone` and `extra_float_digits`, so the WAL text is what the type's output function gives in the
 * session where `to_jsonb` would run. Types not listed here (json, arrays, bytea, interval, time, money, enums,
 * domains, …) keep the SQL path, as do values the WAL does not carry (unchanged TOASTed columns).
 *
 * What `to_jsonb` does per type, and so what {@link columnJson} does:
 * - bool: `true` / `false`;
 * - int2, int4, int8, numeric, float4, float8: a JSON number, re-read as numeric, so exponents are written out
 *   (`1e+15` → `1000000000000000`, `1.5e-07` → `0.00000015`) and `-0` becomes `0`; NaN and ±Infinity are strings;
 *   pgrt's exact columns (int8, numeric) are strings of their decimal text instead (`pgrt.exact`);
 * - text, varchar, bpchar, name, "char", uuid: a JSON string (PostgreSQL's escaping is JSON.stringify's);
 * - jsonb: itself (the WAL text is `jsonb_out`'s, which nests as it stands);
 * - date: the ISO text as a string; timestamp and timestamptz: XSD form, `T` between date and time and the offset
 *   as `±HH:MM[:SS]` (`2024-01-02 03:04:05+05` → `"2024-01-02T03:04:05+05:00"`), ` BC` and `infinity` kept.
 */

/** Turns one column's WAL text (never SQL NULL) into its JSON text. */
export type ColumnFormat = (text: string) => string;

const BOOL = 16;
const CHAR = 18;
const NAME = 19;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const TEXT = 25;
const FLOAT4 = 700;
const FLOAT8 = 701;
const BPCHAR = 1042;
const VARCHAR = 1043;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const NUMERIC = 1700;
const UUID = 2950;
const JSONB = 3802;

/** numeric's and float's non-finite values: `to_jsonb` makes them strings (not valid JSON numbers). */
function special(text: string): boolean {
  return text === 'NaN' || text === 'Infinity' || text === '-Infinity';
}

const EXPONENT = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/;

/**
 * A float's output text as numeric reads it back and writes it (what `to_jsonb` does with float4/float8): the
 * exponent written out with exactly the digits it implies, `-0` as `0`. Plain decimals pass unchanged.
 */
export function floatAsNumeric(text: string): string {
  const match = EXPONENT.exec(text);
  if (!match) return text === '-0' ? '0' : text;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = whole + fraction;
  // Where the decimal point falls in `digits`; numeric keeps exactly the fraction digits the text implies.
  const point = whole.length + Number(exponent);
  let body: string;
  if (point <= 0) body = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) body = digits + '0'.repeat(point - digits.length);
  else body = `${digits.slice(0, point)}.${digits.slice(point)}`;
  // Float output never starts with a zero digit, but numeric would drop one; zero has no sign.
  body = body.replace(/^0+(?=\d)/, '');
  return /[1-9]/.test(body) ? sign + body : body;
}

/** The UTC offset of ISO timestamptz text (`+05`, `-03:30`, `+05:30:52`), before an optional ` BC`. */
const OFFSET = /([+-]\d\d)((?::\d\d){0,2})( BC)?$/;

function timestampTz(text: string): string {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  // `date time±HH[:MM[:SS]][ BC]`: the time holds no sign, so the first after the space starts the offset.
  const space = text.indexOf(' ');
  let sign = text.indexOf('+', space);
  if (sign < 0) sign = text.indexOf('-', space);
  if (space < 0 || sign < 0) return timestampTzSlow(text);
  const bc = text.endsWith(' BC');
  const end = bc ? text.length - 3 : text.length;
  const offset = end - sign === 3 ? `${text.slice(sign, end)}:00` : text.slice(sign, end);
  return `"${text.slice(0, space)}T${text.slice(space + 1, sign)}${offset}${bc ? ' BC' : ''}"`;
}

/** {@link timestampTz} by regular expressions, for text of another shape than ISO's (not expected). */
function timestampTzSlow(text: string): string {
  const iso = text.replace(' ', 'T');
  const withMinutes = iso.replace(OFFSET, (_, hours: string, rest: string, bc: string | undefined) =>
    rest === '' ? `${hours}:00${bc ?? ''}` : `${hours}${rest}${bc ?? ''}`,
  );
  return `"${withMinutes}"`;
}

function timestamp(text: string): string {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  return `"${text.replace(' ', 'T')}"`;
}

const quoted: ColumnFormat = (text) => `"${text}"`;
const string: ColumnFormat = (text) => JSON.stringify(text);
const asIs: ColumnFormat = (text) => text;
const number: ColumnFormat = (text) => (special(text) ? `"${text}"` : text);
const float: ColumnFormat = (text) => (special(text) ? `"${text}"` : floatAsNumeric(text));
const bool: ColumnFormat = (text) => (text === 't' ? 'true' : 'false');

/**
 * The JSON formatter of a column of type `typeOid`, or undefined when the type keeps the SQL path. `exact`: the
 * column is one of pgrt's exact columns (int8 and numeric carried as decimal strings, row-codec.ts).
 */
export function columnFormat(typeOid: number, exact: boolean): ColumnFormat | undefined {
  switch (typeOid) {
    case BOOL:
      return bool;
    case INT2:
    case INT4:
      return asIs;
    case INT8:
    case NUMERIC:
      // Decimal digits, sign, point, NaN, Infinity: nothing to escape.
      return exact ? quoted : number;
    case FLOAT4:
    case FLOAT8:
      return float;
    case TEXT:
    case VARCHAR:
    case BPCHAR:
    case NAME:
    case CHAR:
      return string;
    case UUID:
    case DATE:
      return quoted;
    case TIMESTAMP:
      return timestamp;
    case TIMESTAMPTZ:
      return timestampTz;
    case JSONB:
      return asIs;
    default:
      return undefined;
  }
}

/**
 * The order in which jsonb writes an object's keys: shorter (in UTF-8 bytes) first, then bytewise. Returns the
 * indexes of `names` in that order.
 */
export function jsonbKeyOrder(names: readonly string[]): number[] {
  const bytes = names.map((name) => Buffer.from(name, 'utf8'));
  return names
    .map((_, index) => index)
    .sort((a, b) => bytes[a]!.length - bytes[b]!.length || Buffer.compare(bytes[a]!, bytes[b]!));
}
