/**
 * Parameter validation through the Standard Schema interface (`~standard`), which zod 4, valibot and arktype all
 * implement, so an app picks its schema library. A failed check becomes one {@link ValidationError} naming every
 * offending field by its dotted path (`0.title` = the `title` of the first parameter).
 */
import { ValidationError, type ValidationIssue } from './errors.js';

/** The part of the Standard Schema v1 interface pgrt uses. */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    validate(value: unknown): StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

type PathSegment = PropertyKey | { readonly key: PropertyKey };

/** A Standard Schema validation result. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PathSegment> | undefined;
        readonly code?: string;
      }>;
    };

/** The output type of a schema. */
export type InferOutput<S> = S extends StandardSchema<infer O> ? O : never;

/** Output types of a tuple of parameter schemas. */
export type InferParams<P extends readonly StandardSchema[]> = { [K in keyof P]: InferOutput<P[K]> };

function segmentName(segment: PathSegment): string {
  const key = typeof segment === 'object' ? segment.key : segment;
  return String(key);
}

/**
 * Checks positional `params` against one schema per position. Extra parameters are refused; missing ones are
 * checked as `undefined` (so optional schemas accept them). Returns the parsed values (schemas may transform).
 * @throws ValidationError listing every failed field.
 */
export async function validateParams(
  schemas: readonly StandardSchema[],
  params: readonly unknown[],
): Promise<unknown[]> {
  const issues: ValidationIssue[] = [];
  if (params.length > schemas.length) {
    issues.push({
      name: String(schemas.length),
      type: 'too_many_params',
      message: `Expected at most ${schemas.length} parameter(s), received ${params.length}`,
    });
  }
  const out: unknown[] = [];
  for (let i = 0; i < schemas.length; i++) {
    const schema = schemas[i]!;
    let result = schema['~standard'].validate(params[i]);
    if (result instanceof Promise) result = await result;
    if (result.issues) {
      for (const issue of result.issues) {
        const path = [String(i), ...(issue.path ?? []).map(segmentName)];
        issues.push({ name: path.join('.'), type: issue.code ?? 'invalid', message: issue.message });
      }
    } else {
      out.push(result.value);
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  // Keep trailing undefined parameters out, so handlers see the same arity the client sent.
  out.length = Math.min(out.length, Math.max(params.length, trailingDefined(out)));
  return out;
}

function trailingDefined(values: readonly unknown[]): number {
  let n = values.length;
  while (n > 0 && values[n - 1] === undefined) n--;
  return n;
}
