/** Thrown by {@link withDeadline} when the work did not settle in time. */
export class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no answer in ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

/**
 * The work's result, or a rejection after `ms`: a background check must end even when what it
 * asks (Redis through a queue connection with an offline queue, a `df` that hangs on a dead mount)
 * never answers. The work itself is not cancelled.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceeded(ms)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
