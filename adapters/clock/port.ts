/** Where time comes from (DESIGN.md §3). Epoch milliseconds. */
export interface Clock {
  now(): number;
}
