/** This process could not connect to NATS; the message names the URL it tried and why. */
export class NatsConnectError extends Error {
  override name = 'NatsConnectError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach NATS at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
