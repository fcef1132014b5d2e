/** Thrown by an adapter whose system cannot run a measurement yet; the report says "not available". */
export class NotAvailableError extends Error {
  override readonly name = 'NotAvailableError'
}
