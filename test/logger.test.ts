import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

function captured(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('redacts tokens and authorization headers wherever they are logged', () => {
    const { lines, stream } = captured();
    const logger = createLogger('info', stream);
    const secret = 'flo_secret-value-that-must-not-appear';
    logger.info({ token: secret }, 'top level');
    logger.info({ req: { headers: { authorization: `Bearer ${secret}` } } }, 'request');
    logger.info({ created: { token: secret, acceptance_token: secret } }, 'nested');
    logger.child({ module: 'agents' }).warn({ enrollment_token: secret }, 'child');
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line).not.toContain(secret);
      expect(line).toContain('[Redacted]');
    }
  });
});
