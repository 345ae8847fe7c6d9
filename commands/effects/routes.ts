// The registry of effect routes (DESIGN.md §6). Each context appends its routes here
// (insert-only: one import and one entry per route); composition hands the list to the
// effect dispatcher. Route names must be unique and stable (they are stored in the outbox).
import type { EffectRoute } from './effect.js';
import { volumeSnapshotRoute } from '../compute/snapshot-effect-routes.js';
import { volumeAttachRoute, volumeCreateRoute, volumeDeleteRoute, volumeDetachRoute } from '../compute/volume-effect-routes.js';
import { vmEffectRoute } from '../compute/vm-routes.js';

export const effectRoutes: readonly EffectRoute[] = [
  volumeCreateRoute, volumeAttachRoute, volumeDetachRoute, volumeDeleteRoute, volumeSnapshotRoute,
  vmEffectRoute,
];
