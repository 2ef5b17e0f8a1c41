/**
 * money values as Supabase sends them: `to_jsonb` of a money value is its output text (`"$1,234.50"`, in the
 * database's `lc_monetary`), while pgrt's bus carries money as exact decimal text (`1234.50`). The format is learnt
 * once from the database's own output of two samples ({@link MONEY_SAMPLES_SQL}) and applied in Node: currency
 * symbol and sign around the digits, the group separator every three digits, the decimal point, the fraction
 * digits. A format it cannot read (grouping other than by three, e.g.) gives undefined: money then stays the
 * decimal text.
 */

/** The database's output of 1234567.89 and -1234567.89 as money, in the pool's `lc_monetary`. */
export const MONEY_SAMPLES_SQL =
  'SELECT (1234567.89)::money::text AS positive, (-1234567.89)::money::text AS negative';

/** Renders the bus's decimal text of a money value as the database's money output. */
export type MoneyFormat = (decimal: string) => string;

/** The format shown by the samples (see the module header), or undefined when it cannot be read. */
export function moneyFormat(positive: string, negative: string): MoneyFormat | undefined {
  const plus = moneyShape(positive);
  const minus = moneyShape(negative);
  if (!plus || !minus || plus.group !== minus.group || plus.point !== minus.point) return undefined;
  if (plus.fraction !== minus.fraction) return undefined;
  const { group, point, fraction } = plus;
  return (decimal) => {
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(decimal);
    if (!match) return decimal;
    const [, sign, whole = '', frac = ''] = match;
    let digits = whole;
    if (group) digits = digits.replace(/\B(?=(\d{3})+(?!\d))/g, group);
    if (fraction > 0) digits += point + frac.padEnd(fraction, '0').slice(0, fraction);
    const shape = sign ? minus : plus;
    return shape.prefix + digits + shape.suffix;
  };
}

interface MoneyShape {
  readonly prefix: string;
  readonly suffix: string;
  readonly group: string;
  readonly point: string;
  readonly fraction: number;
}

/** Reads one sample of 1234567.89: the text around its digits and the separators between them. */
function moneyShape(text: string): MoneyShape | undefined {
  const match = /^(\D*)(\d[\d\D]*\d|\d)(\D*)$/.exec(text);
  if (!match) return undefined;
  const [, prefix = '', body = '', suffix = ''] = match;
  const runs = body.split(/\D+/);
  const separators = body.match(/\D+/g) ?? [];
  let group = '';
  let point = '';
  let fraction = 0;
  let whole: string[];
  if (separators.length === 3 && separators[0] === separators[1]) {
    [group = '', , point = ''] = separators;
    fraction = runs[3]?.length ?? 0;
    whole = runs.slice(0, 3);
  } else if (separators.length === 2 && separators[0] === separators[1]) {
    group = separators[0] ?? '';
    whole = runs;
  } else if (separators.length === 1) {
    point = separators[0] ?? '';
    fraction = runs[1]?.length ?? 0;
    whole = runs.slice(0, 1);
  } else if (separators.length === 0) {
    whole = runs;
  } else {
    return undefined;
  }
  // The whole part must read 1234567 (grouped by three, or not at all; 1234568 when there is no fraction).
  const digits = whole.join('');
  if (digits !== (fraction > 0 ? '1234567' : '1234568')) return undefined;
  if (group && whole.join(',') !== '1,234,567' && whole.join(',') !== '1,234,568') return undefined;
  return { prefix, suffix, group, point, fraction };
}
