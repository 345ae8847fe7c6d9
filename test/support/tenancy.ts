import request from 'supertest';
import type { TestStratus } from './stratus.js';

// Helpers for the tenancy and ticket end-to-end tests: project logins and ticket outcomes.

/** The password the tests give the users they create. */
export const memberPassword = 'a long enough password 1';

/** Logs `username` in to the project and gives the bearer header (the login must succeed). */
export async function loginToProject(stratus: Pick<TestStratus, 'app'>, username: string, projectId: string, password = memberPassword): Promise<string> {
  const response = await request(stratus.app).post('/v1/sessions').send({ username, password, projectId }).expect(201);
  return `Bearer ${response.body.token as string}`;
}

/**
 * The ticket once its fulfilment has recorded an outcome (fulfilment runs after the final
 * approval, asynchronously), as `auth` reads it.
 */
export async function ticketWithOutcome(stratus: Pick<TestStratus, 'app'>, auth: string, ticketId: string): Promise<any> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const response = await request(stratus.app).get(`/v1/tickets/${ticketId}`).set('Authorization', auth).expect(200);
    if (response.body.outcome !== null) return response.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`ticket ${ticketId} never got an outcome`);
}
