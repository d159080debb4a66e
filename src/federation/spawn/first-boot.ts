// A spawned child's first boot: read the bootstrap file the parent wrote, redeem its acceptance token
// at the parent (retrying with capped backoff while the parent is unreachable; a refusal is final), and
// rewrite the file without the token so a restart never redeems it again. Also keeps the bootstrap
// admin's token out of the log (a 0600 file beside the bootstrap file) and watches the parent's pid.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { SPAWN_MODES } from '../../domain/federation.js';
import type { Caller } from '../../domain/roles.js';
import { FlotillaError, InvalidInputError } from '../../errors.js';
import type { BootstrapFile } from './provider.js';

/** The caller a child's first boot acts as: a system admin; audit entries name it `child_handshake`. */
export const FIRST_BOOT_CALLER: Caller = {
  operatorId: '00000000-0000-0000-0000-000000000000',
  name: 'child_handshake',
  role: 'admin',
};

export const ADMIN_TOKEN_FILE_NAME = 'admin-token';

const bootstrapSchema = z.object({
  version: z.literal(1),
  child_instance_id: z.uuid(),
  parent_url: z.string().min(1).nullable(),
  acceptance_token: z.string().min(1).nullable(),
  contract_version: z.string().min(1),
  spawn_mode: z.enum(SPAWN_MODES),
  child_name: z.string().min(1),
  region: z.string().min(1).nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable().optional(),
  failed_at: z.string().nullable().optional(),
  last_error: z.string().nullable().optional(),
  federation_peer_id: z.string().nullable().optional(),
});

/** Reads and checks a bootstrap file; a missing or malformed one is an error naming the file. */
export function readBootstrapFile(file: string): BootstrapFile {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`cannot read bootstrap file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = bootstrapSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`bootstrap file ${file}: ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Replaces the file atomically (write a 0600 sibling, then rename). */
export function writeBootstrapFile(file: string, content: BootstrapFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Writes the bootstrap admin's token beside the bootstrap file (0600) and returns the path. */
export function writeAdminToken(bootstrapFile: string, token: string): string {
  const file = path.join(path.dirname(bootstrapFile), ADMIN_TOKEN_FILE_NAME);
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600); // an older file keeps its mode on overwrite
  return file;
}

/** What redeems the token: FederationService.acceptFromParent. */
export interface ParentAcceptor {
  acceptFromParent(caller: Caller, input: { parentUrl: string; acceptanceToken: string }): Promise<{ id: string }>;
}

export type FirstBootOutcome = 'completed' | 'failed' | 'nothing_to_do' | 'aborted';

export interface FirstBootOptions {
  file: string;
  federation: ParentAcceptor;
  logger: Logger;
  signal?: AbortSignal;
  /** Waits between attempts; resolves early (or rejects) when `signal` aborts. Default a real timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** First retry delay and its cap; the delay doubles. Defaults 500 ms and 30 s. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  now?: () => Date;
}

/**
 * Redeems the bootstrap file's acceptance token at its parent. Only `unavailable` (the parent did not
 * answer, or answered 5xx) and unexpected errors are retried; a refusal (401, 404, 409, 400) is logged,
 * and the file is marked failed. Either way the token is then removed from the file.
 */
export async function runFirstBoot(opts: FirstBootOptions): Promise<FirstBootOutcome> {
  const { file, logger } = opts;
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? abortableSleep;
  const boot = readBootstrapFile(file);
  if (boot.acceptance_token === null || boot.parent_url === null) return 'nothing_to_do';
  const input = { parentUrl: boot.parent_url, acceptanceToken: boot.acceptance_token };
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted === true) return 'aborted';
    let peer: { id: string };
    try {
      peer = await opts.federation.acceptFromParent(FIRST_BOOT_CALLER, input);
    } catch (err) {
      if (err instanceof FlotillaError && err.code !== 'unavailable') {
        writeBootstrapFile(file, {
          ...boot,
          acceptance_token: null,
          failed_at: now().toISOString(),
          last_error: `${err.code}: ${err.message}`,
        });
        logger.error(
          { code: err.code, parentUrl: boot.parent_url, attempt },
          `first boot: the parent refused the handshake: ${err.message}`,
        );
        return 'failed';
      }
      logger.warn(
        { err: { message: (err as Error).message }, parentUrl: boot.parent_url, attempt, retryInMs: delay },
        'first boot: parent not reachable yet; retrying',
      );
      try {
        await sleep(delay, opts.signal);
      } catch {
        return 'aborted';
      }
      delay = Math.min(delay * 2, maxDelay);
      continue;
    }
    writeBootstrapFile(file, {
      ...boot,
      acceptance_token: null,
      completed_at: now().toISOString(),
      federation_peer_id: peer.id,
    });
    logger.info({ peerId: peer.id, parentUrl: boot.parent_url, attempt }, 'first boot: federated with the parent');
    return 'completed';
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new Error('aborted'));
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(new Error('aborted'));
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Calls `onGone` once when process `pid` no longer exists (checked every `intervalMs`), so a child never
 * outlives its parent. Returns a function that stops watching.
 */
export function watchParentPid(pid: number, onGone: () => void, intervalMs = 1000): () => void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return; // EPERM: alive, not ours
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
