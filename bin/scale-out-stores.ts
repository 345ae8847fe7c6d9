// Picks the store adapters of the scale-out deployment from their URLs (DESIGN.md §1):
// STRATUS_EVENTSTORE=kurrentdb://host:2113?tls=false (or esdb://, kdb://, and their +discover
// cluster forms) and STRATUS_READSTORE=mongodb://… (or mongodb+srv://). A `sqlite:` URL
// beside one of them still opens the embedded store; anything else is refused.

import type { Clock } from '../adapters/clock/port.js';
import { openKurrentEventStore } from '../adapters/eventstore/kurrentdb.js';
import type { EventStore } from '../adapters/eventstore/port.js';
import { openSqliteEventStore } from '../adapters/eventstore/sqlite.js';
import { openMongoReadStore } from '../adapters/readstore/mongodb.js';
import type { ReadStore } from '../adapters/readstore/port.js';
import { openSqliteReadStore } from '../adapters/readstore/sqlite.js';
import { sqliteFile, type Config } from './config.js';

const KURRENT_URL = /^(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\//;
const MONGODB_URL = /^mongodb(\+srv)?:\/\//;

export const isKurrentUrl = (url: string) => KURRENT_URL.test(url);
export const isMongoUrl = (url: string) => MONGODB_URL.test(url);

/** Whether the configuration names a scale-out store (the embedded default otherwise). */
export function usesScaleOutStores(config: Config): boolean {
  return isKurrentUrl(config.eventStoreUrl) || isMongoUrl(config.readStoreUrl);
}

export function openScaleOutStores(config: Config, clock: Clock): { eventStore: EventStore; readStore: ReadStore } {
  const eventStore = isKurrentUrl(config.eventStoreUrl)
    ? openKurrentEventStore({ url: config.eventStoreUrl })
    : openSqliteEventStore({ file: sqliteFile(config.eventStoreUrl, 'STRATUS_EVENTSTORE'), clock });
  const readStore = isMongoUrl(config.readStoreUrl)
    ? openMongoReadStore({ url: config.readStoreUrl })
    : openSqliteReadStore({ file: sqliteFile(config.readStoreUrl, 'STRATUS_READSTORE') });
  return { eventStore, readStore };
}
