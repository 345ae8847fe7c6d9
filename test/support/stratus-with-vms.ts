import { join } from 'node:path';
import type { Clock } from '../../adapters/clock/port.js';
import { removeDir, startStratus, type TestStratus } from './stratus.js';
import { buildVmInventory, postWith, type InventoryOptions, type VmInventory } from './vm-inventory.js';

// The setup of the end-to-end tests that create VMs: a whole Stratus, the admin logged in, and
// what VMs need built through the API (vm-inventory.ts), its image files in the data directory.

export interface StratusWithVms {
  stratus: TestStratus;
  /** The admin's bearer header. */
  admin: string;
  inventory: VmInventory;
}

export async function startStratusWithVms(options: Omit<InventoryOptions, 'dir'> & { clock?: Clock }): Promise<StratusWithVms> {
  const { clock, ...inventoryOptions } = options;
  const stratus = await startStratus(clock ? { clock } : {});
  const admin = await stratus.login();
  const inventory = await buildVmInventory(postWith(stratus.app, admin), { dir: join(stratus.dataDir, 'images'), ...inventoryOptions });
  return { stratus, admin, inventory };
}

/** Stops it and removes its data directory. */
export async function stopStratus(stratus: TestStratus): Promise<void> {
  await stratus.stop();
  removeDir(stratus.dataDir);
}
