import { z } from 'zod';
import type { Clock } from '../../adapters/clock/port.js';
import type { EventStore } from '../../adapters/eventstore/port.js';
import { expungeImage } from '../../commands/compute/image-expunge.js';
import { deleteImage, recoverImage, registerImage } from '../../commands/compute/images.js';
import type { Tasks } from '../../commands/tasks/tasks.js';
import { imageFormats, imagePlatforms } from '../../domain/compute/image.js';
import { imageFields, imagesCollection } from '../../projections/compute/images.js';
import { endpoint, type Endpoint } from '../shared/endpoint.js';
import { listAndDetailEndpoints, runQuickTask, type ReadDeps } from './resources.js';
import { createdSchema, descriptionSchema, nameSchema } from './zones.js';
import type { Response } from 'express';
import { imageStream } from '../../domain/compute/image.js';
import { assertStreamInProject, projectForCreate } from '../tenancy/scope.js';

const registerBody = z.strictObject({
  name: nameSchema,
  description: descriptionSchema,
  url: z.string().min(1).max(2048),
  format: z.enum(imageFormats),
  platform: z.enum(imagePlatforms),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal digits'),
  sizeBytes: z.number().int().positive(),
  imageStoreId: z.string().min(1).optional(),
});

const lifecycleView = z.object({ id: z.string(), state: z.string(), taskId: z.string() });

export function imageEndpoints(deps: ReadDeps & { eventStore: EventStore; clock: Clock; tasks: Tasks }): Endpoint[] {
  const store = { store: deps.eventStore, clock: deps.clock };
  /** Tenancy: a project session changes the images registered in its project only (shared ones it only reads). */
  const assertImageInProject = (res: Response, id: string) =>
    assertStreamInProject(res, deps.eventStore, imageStream(id), { code: 'IMAGE_NOT_FOUND', detail: `no image ${id}` });
  return [
    endpoint({
      method: 'post',
      path: '/v1/images',
      tag: 'images',
      summary: 'Register an image from a URL or a path, with the sha256 its copies are verified against',
      permission: 'image:create',
      body: registerBody,
      responses: { 201: { description: 'Registered', schema: createdSchema } },
      async handle({ req, res, body }) {
        const projectId = projectForCreate(res, undefined);
        await runQuickTask(req, res, deps.tasks, { action: 'RegisterImage', resourceType: 'image', request: body },
          (metadata) => registerImage(store, body, metadata, projectId !== undefined ? { projectId } : {}), 201);
      },
    }),
    ...listAndDetailEndpoints(deps, { path: '/v1/images', tag: 'images', resource: 'image', collection: imagesCollection, fields: imageFields, projectScope: 'ownOrShared' }),
    endpoint({
      method: 'delete',
      path: '/v1/images/:id',
      tag: 'images',
      summary: 'Delete an image under image.deletionPolicy (Direct: expunged at once; Delay: Destroyed until image.expungePeriod has passed; Never: Destroyed)',
      permission: 'image:delete',
      responses: { 200: { description: 'Deleted', schema: lifecycleView.extend({ policy: z.string(), expungeAt: z.string().nullable() }) } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertImageInProject(res, id);
        await runQuickTask(req, res, deps.tasks, { action: 'DeleteImage', resourceType: 'image', resourceIds: [id], request: { id } },
          (metadata) => deleteImage(store, id, metadata));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/images/:id/recover',
      tag: 'images',
      summary: 'Recover a Destroyed image',
      permission: 'image:recover',
      responses: { 200: { description: 'Recovered', schema: lifecycleView } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertImageInProject(res, id);
        await runQuickTask(req, res, deps.tasks, { action: 'RecoverImage', resourceType: 'image', resourceIds: [id], request: { id } },
          (metadata) => recoverImage(store, id, metadata));
      },
    }),
    endpoint({
      method: 'post',
      path: '/v1/images/:id/expunge',
      tag: 'images',
      summary: 'Expunge a Destroyed image now',
      permission: 'image:expunge',
      responses: { 200: { description: 'Expunged', schema: lifecycleView } },
      async handle({ req, res, params }) {
        const id = params.id!;
        await assertImageInProject(res, id);
        await runQuickTask(req, res, deps.tasks, { action: 'ExpungeImage', resourceType: 'image', resourceIds: [id], request: { id } },
          async (metadata) => ({ id, state: 'Expunged', ...(await expungeImage(store, id, metadata)) }));
      },
    }),
  ];
}
