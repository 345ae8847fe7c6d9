import type { Projection } from '../../projections/shared/projection.js';
import { parallelTestProjection, thingsCollection } from './parallel-rebuild-projection.js';

// A projection that declares parallelRebuild but reads the batch (which a parallel rebuild
// cannot answer): the rebuild must fail and say so. Imported by the rebuild's workers.
export const parallelReadingProjection: Projection = {
  ...parallelTestProjection,
  name: 'parallel-test-reading',
  parallelRebuild: { module: import.meta.url },
  async apply(event, batch) {
    await batch.get(thingsCollection, 'thing-1');
    return parallelTestProjection.apply(event, batch);
  },
};
