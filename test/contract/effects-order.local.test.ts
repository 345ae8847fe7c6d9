import { createLocalBus } from '../../adapters/bus/local.js';
import { effectsOrderContract } from './effects-order.contract.js';

effectsOrderContract('local bus', async () => {
  const bus = createLocalBus({ retryDelayMs: () => 1 });
  return { bus, close: () => bus.close() };
});
