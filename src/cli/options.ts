import { InvalidArgumentError } from 'commander';
import { CliError } from './errors.ts';

/** Parses a positive integer flag value, naming the flag on error. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got '${value}'`);
    return n;
  };
}

/** Parses a non-negative integer flag value, naming the flag on error. */
export function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError(`${flag} must be a non-negative integer, got '${value}'`);
    }
    return n;
  };
}

/** Parses an integer flag value within [min, max], naming the flag on error. */
export function intInRange(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
    return n;
  };
}

/** Parses a pool or worker name: it goes into NATS subjects. */
export function subjectToken(flag: string) {
  return (value: string): string => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) {
      throw new InvalidArgumentError(`${flag} must be 1-64 characters of A-Z a-z 0-9 _ -, got '${value}'`);
    }
    return value;
  };
}

/** Parses a JSON object flag value (metadata). */
export function jsonObjectString(flag: string) {
  return (value: string): string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw new InvalidArgumentError(`${flag} must be a JSON object: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidArgumentError(`${flag} must be a JSON object, got ${value}`);
    }
    return value;
  };
}

/** Reads NATS_URL when --nats is absent; an invalid URL is refused with where it came from. */
export function natsUrl(
  flagValue: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const value = flagValue ?? env.NATS_URL;
  if (value === undefined || value === '') return undefined;
  for (const part of value.split(',')) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(part) && !/^[\w.-]+:\d+$/.test(part)) {
      throw new CliError(
        `${flagValue ? '--nats' : 'NATS_URL'} must be a NATS URL like nats://127.0.0.1:4222, got '${part}'`,
      );
    }
  }
  return value;
}
