import { createHash } from 'node:crypto';
import { encrypt } from 'unixcrypt';

const hashCache = new Map<string, string>();
const hashCacheLimit = 1024;

/**
 * SHA-512 crypt(3) of a password with `$6$rounds=5000$<salt>$`, as PHP's crypt()
 * gave the original. 5000 rounds cost milliseconds, so results are memoised,
 * keyed by a digest so plaintext passwords are not kept as map keys.
 */
export function sha512crypt(password: unknown, salt: unknown, rounds: unknown = 5000): string {
  if (typeof password !== 'string' || password === '') throw new Error('sha512crypt: the password is empty or not a string');
  if (typeof salt !== 'string' || !/^[./0-9A-Za-z]{1,16}$/.test(salt)) throw new Error('sha512crypt: the salt must be 1-16 characters of [./0-9A-Za-z]');
  const setting = `$6$rounds=${Number(rounds)}$${salt}`;
  const key = createHash('sha256').update(setting).update('\0').update(password).digest('base64');
  let hash = hashCache.get(key);
  if (!hash) {
    hash = encrypt(password, setting);
    if (hashCache.size >= hashCacheLimit) hashCache.clear();
    hashCache.set(key, hash);
  }
  return hash;
}

/** Fails the render, naming the variable, when a value a kickstart needs is empty. */
export function required(value: unknown, name: unknown): unknown {
  if (value === undefined || value === null || value === '') throw new Error(`${String(name)} is empty; set it in the build's definition`);
  return value;
}
