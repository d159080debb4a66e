// The handle repositories take first: the Kysely instance or an open transaction.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';

export type Db = Kysely<Database> | Transaction<Database>;
