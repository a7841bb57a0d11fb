/**
 * How a connector makes each HTTP call of an operation. An operation (an Instagram publish: quota, container, status,
 * media_publish, permalink) is several calls; the connector knows which of them may be sent again — a read, or a step
 * that makes nothing public (a media container, an unpublished photo, a media upload) — and says so. What is done
 * with that is the runner's: retrying a call that failed transiently (call-retry.ts), refusing it while the account's
 * circuit breaker is open and counting its outcome (breaker-connector.ts).
 */
export interface PlatformCalls {
  run<T>(call: () => Promise<T>, options: CallOptions): Promise<T>;
}

export interface CallOptions {
  /**
   * True when sending the call again cannot make anything public twice. False for the call that publishes: when it
   * failed, whether a post exists is for the worker to find out (findPublished) before posting again.
   */
  redoable: boolean;
}

/** Each call made once, as it is: a connector built on its own (tests, tools) behaves like that. */
export const singleCalls: PlatformCalls = {
  run: (call) => call(),
};
